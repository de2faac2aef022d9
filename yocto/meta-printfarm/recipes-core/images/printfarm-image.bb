SUMMARY = "Printfarm appliance image"
DESCRIPTION = "The headless print-farm box: the server on port ${PRINTFARM_PORT}, advertised over mDNS, \
with a read-only root file system and the farm's data on the persistent /data partition. \
printfarm-kiosk-image adds the touchscreen kiosk."
LICENSE = "MIT"

require printfarm-image.inc
