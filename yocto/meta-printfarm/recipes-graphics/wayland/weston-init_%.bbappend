# Only in the printfarm distro: Weston's kiosk shell (every window full screen, no panel), the
# on-screen keyboard, the screen-blanking policy and the hidden pointer for printfarm-kiosk.
FILESEXTRAPATHS:prepend:printfarm := "${THISDIR}/${PN}:"

# PRINTFARM_SCREEN_BLANK_S (conf/distro/printfarm.conf): idle seconds before the screen blanks.
do_install:append:printfarm() {
    sed -i -e 's,@IDLE_TIME@,${PRINTFARM_SCREEN_BLANK_S},g' -e 's,@LIBEXECDIR@,${libexecdir},g' \
        ${D}${sysconfdir}/xdg/weston/weston.ini
}
