# The printfarm A/B slot layout (files/wic/printfarm-ab.wks.in) for RAUC, only in the printfarm-os distro.
# Untested on hardware: see yocto/README.md "Updates".
FILESEXTRAPATHS:prepend:printfarm-os := "${THISDIR}/files:"

do_install:append:printfarm-os() {
    sed -i -e 's,@MACHINE@,${MACHINE},g' ${D}${sysconfdir}/rauc/system.conf
}
