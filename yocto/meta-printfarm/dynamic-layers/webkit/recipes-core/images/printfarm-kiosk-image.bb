SUMMARY = "Printfarm appliance image with the touchscreen kiosk"
DESCRIPTION = "printfarm-image plus Weston's kiosk shell and cog (WPE WebKit) showing the app full \
screen, with an on-screen keyboard, a hidden pointer and screen blanking."
LICENSE = "MIT"

require recipes-core/images/printfarm-image.inc

IMAGE_FEATURES += "weston"
IMAGE_INSTALL += "printfarm-kiosk"

SYSTEMD_DEFAULT_TARGET = "graphical.target"
