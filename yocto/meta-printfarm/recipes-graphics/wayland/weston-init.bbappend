# Only in the printfarm-os distro: Weston's kiosk shell (every window full screen, no panel), the
# on-screen keyboard, the screen-blanking policy and the hidden pointer for printfarm-kiosk.
FILESEXTRAPATHS:prepend:printfarm-os := "${THISDIR}/${PN}:"

# PRINTFARM_SCREEN_BLANK_S (conf/distro/printfarm-os.conf): idle seconds before the screen blanks.
do_install:append:printfarm-os() {
    sed -i -e 's,@IDLE_TIME@,${PRINTFARM_SCREEN_BLANK_S},g' -e 's,@LIBEXECDIR@,${libexecdir},g' \
        ${D}${sysconfdir}/xdg/weston/weston.ini
}
