# nooelint: oelint.var.mandatoryvar.SRC_URI - a bundle is assembled from printfarm-image; it fetches nothing
SUMMARY = "Printfarm update bundle (RAUC)"
DESCRIPTION = "A signed, verity-format RAUC bundle holding printfarm-image's root file system, \
installed with `rauc install` into the root slot that is not running."
HOMEPAGE = "https://example.invalid/printfarm"
LICENSE = "MIT"

inherit bundle

RAUC_BUNDLE_COMPATIBLE = "printfarm-${MACHINE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}"
RAUC_BUNDLE_FORMAT = "verity"
RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "printfarm-image"
RAUC_SLOT_rootfs[fstype] = "ext4"
RAUC_SLOT_rootfs[adaptive] = "block-hash-index"

# The signing key and certificate never live in this repository: CI passes them in through the
# environment (RAUC_KEY_FILE, RAUC_CERT_FILE; see yocto/kas/rauc.yml).
