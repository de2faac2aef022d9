SUMMARY = "Printfarm appliance runtime"
DESCRIPTION = "The print-farm server with its browser assets, udev rules and mDNS advertisement, the \
tools the read-only root needs at boot, and the kernel drivers for the USB-serial bridges printers use."
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    avahi-daemon \
    printfarm \
    printfarm-avahi \
    util-linux-mount \
"
# Recommended, not required: a kernel may have these built in, and then there is no package.
RRECOMMENDS:${PN} = "\
    kernel-module-cdc-acm \
    kernel-module-ch341 \
    kernel-module-cp210x \
    kernel-module-ftdi-sio \
    kernel-module-usbserial \
"
