SUMMARY = "Printfarm browser assets (wasm, JavaScript, CSS)"
DESCRIPTION = "The browser half of the Printfarm web app: pkg/printfarm.{js,wasm,css} and the public \
files, built by the project's normal build (scripts/bundle) and packed by \
yocto/scripts/web-archive. OE's Rust has no wasm32 target, so the image installs this \
architecture-independent archive, pinned by its sha256, instead of building it."
HOMEPAGE = "https://example.invalid/printfarm"
BUGTRACKER = "https://example.invalid/printfarm/issues"
SECTION = "net"
LICENSE = "AGPL-3.0-or-later"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/AGPL-3.0-or-later;md5=a4af3f9f0c0fc9de318e4df46665906e"

# Where release archives are published. For an image with your own build of the assets, run
# yocto/scripts/web-archive --pin and set PRINTFARM_WEB_MIRROR = "file://${TOPDIR}/../target/yocto"
# (yocto/README.md, "Your own browser assets").
PRINTFARM_WEB_MIRROR ??= "https://example.invalid/printfarm/releases"
SRC_URI = "${PRINTFARM_WEB_MIRROR}/${BP}.tar.gz"
SRC_URI[sha256sum] = "ae6652b3e19b2dc6f25ee71b87e8e866c176a86427284e2c2ebd030f3fe9a5f8"

inherit allarch

# Plain files: nothing to configure or compile.
do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/printfarm/site/pkg
    for f in printfarm.js printfarm.wasm printfarm.css; do
        [ -f ${S}/pkg/$f ] || bbfatal "${BP}.tar.gz has no pkg/$f; rebuild it with yocto/scripts/web-archive"
        install -m 0644 ${S}/pkg/$f ${D}${datadir}/printfarm/site/pkg/$f
    done
    # The public files (favicon and friends), whatever the app ships.
    (cd ${S} && find . -path ./pkg -prune -o -type f -print) | while read -r f; do
        install -D -m 0644 "${S}/$f" "${D}${datadir}/printfarm/site/$f"
    done
}

FILES:${PN} += "${datadir}/printfarm/site"
