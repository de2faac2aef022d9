SUMMARY = "Printfarm touchscreen kiosk"
DESCRIPTION = "Opens the Printfarm app full screen on the box's own touchscreen: cog (WPE WebKit) \
under Weston's kiosk shell, restarted whenever it exits, with a hidden pointer."
HOMEPAGE = "https://example.invalid/printfarm"
BUGTRACKER = "https://example.invalid/printfarm/issues"
SECTION = "graphics"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "file://printfarm-kiosk.service"

S = "${UNPACKDIR}"

inherit allarch features_check systemd

REQUIRED_DISTRO_FEATURES = "systemd wayland"

# The page the kiosk opens: /kiosk turns on the app's kiosk mode for this browser (locked to Create,
# the editor and jobs; starts over after PRINTFARM_KIOSK_IDLE_S without a touch) and opens Create.
PRINTFARM_KIOSK_IDLE_S ??= "120"
PRINTFARM_KIOSK_PATH ??= "/kiosk?idle=${PRINTFARM_KIOSK_IDLE_S}"

# Pointer names WPE/cog and libwayland-cursor ask for; each gets the same transparent 1x1 image.
PRINTFARM_CURSOR_NAMES = "default left_ptr pointer hand1 hand2 text xterm wait watch progress \
    crosshair cell grab grabbing move not-allowed col-resize row-resize help context-menu"

# An Xcursor file (the format libwayland-cursor reads) holding one fully transparent 1x1 image.
python do_compile() {
    import struct
    size = 24
    image = struct.pack("<9I", 36, 0xfffd0002, size, 1, 1, 1, 0, 0, 0) + struct.pack("<I", 0)
    header = b"Xcur" + struct.pack("<3I", 16, 0x10000, 1) + struct.pack("<3I", 0xfffd0002, size, 28)
    with open(os.path.join(d.getVar("B"), "transparent"), "wb") as f:
        f.write(header + image)
}

do_install() {
    install -d ${D}${systemd_system_unitdir}
    sed -e 's,@PORT@,${PRINTFARM_PORT},g' -e 's,@KIOSK_PATH@,${PRINTFARM_KIOSK_PATH},g' \
        -e 's,@BINDIR@,${bindir},g' -e 's,@DATADIR@,${datadir},g' \
        ${UNPACKDIR}/printfarm-kiosk.service > ${D}${systemd_system_unitdir}/printfarm-kiosk.service
    chmod 0644 ${D}${systemd_system_unitdir}/printfarm-kiosk.service

    theme=${D}${datadir}/printfarm/cursors/printfarm-hidden
    install -D -m 0644 ${B}/transparent $theme/cursors/transparent
    for name in ${PRINTFARM_CURSOR_NAMES}; do
        ln -s transparent $theme/cursors/$name
    done
    printf '[Icon Theme]\nName=printfarm-hidden\nComment=No visible pointer (touchscreen kiosk)\n' > $theme/index.theme
    # libwayland-cursor loads the theme called "default" when a client names none.
    ln -s printfarm-hidden ${D}${datadir}/printfarm/cursors/default
}

SYSTEMD_SERVICE:${PN} = "printfarm-kiosk.service"

FILES:${PN} += "${datadir}/printfarm/cursors"

RDEPENDS:${PN} = "cog printfarm weston weston-init"
