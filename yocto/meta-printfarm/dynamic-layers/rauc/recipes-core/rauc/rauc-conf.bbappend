# The printfarm A/B slot layout (files/wic/printfarm-ab.wks.in) for RAUC, only in the printfarm distro.
# Untested on hardware: see yocto/README.md "Updates".
FILESEXTRAPATHS:prepend:printfarm := "${THISDIR}/files:"

do_install:append:printfarm() {
    sed -i -e 's,@MACHINE@,${MACHINE},g' ${D}${sysconfdir}/rauc/system.conf
}
