SUMMARY = "Printfarm print-farm server"
DESCRIPTION = "The printfarm binary: the web app (server-side rendering), REST and WebSocket API, \
printer drivers (USB serial, OctoPrint, Moonraker), slicer, scheduler and model generation, \
with its systemd unit, udev rules for printer serial ports and an mDNS (avahi) advertisement."
HOMEPAGE = "https://example.invalid/printfarm"
BUGTRACKER = "https://example.invalid/printfarm/issues"
SECTION = "net"
LICENSE = "AGPL-3.0-or-later"
# The workspace declares its licence in Cargo.toml ([workspace.package] license); the crates it
# vendors are listed, with their own licences, by `cargo about`/SPDX (create-spdx is on by default).
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=10;endline=10;md5=c7953a78dbc0a0651b1cb8b96d902796"

# Every crate from Cargo.lock as a checksummed crate:// entry (scripts/yocto-crates writes it;
# scripts/test fails when it drifts from Cargo.lock). do_compile runs `cargo build --frozen` offline.
require ${BPN}-crates.inc

# The layer lives in the application's own repository, so the recipe builds the exact tree it sits in
# (yocto/meta-printfarm/recipes-printfarm/printfarm -> four levels up). Only the sources the server
# needs are listed; target/, node_modules/ and data/ never enter the build.
# nooelint: oelint.vars.fileextrapaths - the sources are this repository, not a bbappend's extra files
FILESEXTRAPATHS:prepend := "${THISDIR}/../../../..:"
SRC_URI += "\
    file://Cargo.toml;subdir=${BP} \
    file://Cargo.lock;subdir=${BP} \
    file://app;subdir=${BP} \
    file://crates;subdir=${BP} \
    file://server;subdir=${BP} \
    file://61-printfarm-serial.rules \
    file://printfarm.avahi-service \
    file://printfarm.service \
    file://printfarm.tmpfiles \
    file://printfarm.toml.in \
"

inherit cargo cargo-update-recipe-crates systemd useradd

# Only the server binary: the app crate is a cdylib for the browser too, and the browser half comes
# prebuilt in printfarm-web (OE's Rust has no wasm32 target).
CARGO_BUILD_FLAGS += "--package server --bin printfarm"
# GPU generation on Jetson: dynamic-layers/tegra enables this with meta-tegra's CUDA.
PACKAGECONFIG ??= ""
PACKAGECONFIG[cuda] = "--features genai/cuda,,cuda-toolkit"

# Leptos bakes the bundle name into the page's <script> tags at compile time. The repository's
# .cargo/config.toml sets it for developers, but bitbake runs cargo from ${B}, where that file is
# not found, so it is set here too; it must match printfarm-web's pkg/printfarm.{js,wasm,css}.
export LEPTOS_OUTPUT_NAME = "printfarm"

# Appliance defaults, substituted into /etc/printfarm/printfarm.toml.
PRINTFARM_DATA_DIR ?= "/data/printfarm"
PRINTFARM_SITE_ROOT ?= "${datadir}/printfarm/site"

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system printfarm"
# dialout: the printers' USB serial ports (udev gives ttyUSB*/ttyACM* to dialout, mode 0660).
USERADD_PARAM:${PN} = "--system --gid printfarm --groups dialout --home-dir ${PRINTFARM_DATA_DIR} \
    --no-create-home --shell ${base_sbindir}/nologin printfarm"

SYSTEMD_PACKAGES = "${PN}"
SYSTEMD_SERVICE:${PN} = "printfarm.service"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    sed -e 's,@BINDIR@,${bindir},g' -e 's,@DATA_DIR@,${PRINTFARM_DATA_DIR},g' \
        ${UNPACKDIR}/printfarm.service > ${D}${systemd_system_unitdir}/printfarm.service
    chmod 0644 ${D}${systemd_system_unitdir}/printfarm.service

    install -d ${D}${sysconfdir}/printfarm
    sed -e 's,@PORT@,${PRINTFARM_PORT},g' -e 's,@SITE_ROOT@,${PRINTFARM_SITE_ROOT},g' \
        ${UNPACKDIR}/printfarm.toml.in > ${D}${sysconfdir}/printfarm/printfarm.toml
    chmod 0644 ${D}${sysconfdir}/printfarm/printfarm.toml

    install -d ${D}${nonarch_libdir}/tmpfiles.d
    sed -e 's,@DATA_DIR@,${PRINTFARM_DATA_DIR},g' \
        ${UNPACKDIR}/printfarm.tmpfiles > ${D}${nonarch_libdir}/tmpfiles.d/printfarm.conf
    chmod 0644 ${D}${nonarch_libdir}/tmpfiles.d/printfarm.conf

    install -D -m 0644 ${UNPACKDIR}/61-printfarm-serial.rules ${D}${nonarch_base_libdir}/udev/rules.d/61-printfarm-serial.rules

    install -d ${D}${sysconfdir}/avahi/services
    sed -e 's,@PORT@,${PRINTFARM_PORT},g' \
        ${UNPACKDIR}/printfarm.avahi-service > ${D}${sysconfdir}/avahi/services/printfarm.service
    chmod 0644 ${D}${sysconfdir}/avahi/services/printfarm.service
}

PACKAGE_BEFORE_PN = "${PN}-avahi"

FILES:${PN} += "\
    ${nonarch_base_libdir}/udev/rules.d \
    ${nonarch_libdir}/tmpfiles.d \
"
FILES:${PN}-avahi += "${sysconfdir}/avahi/services/printfarm.service"

CONFFILES:${PN} = "${sysconfdir}/printfarm/printfarm.toml"

RDEPENDS:${PN} += "printfarm-web"
RDEPENDS:${PN}-avahi += "avahi-daemon"
RRECOMMENDS:${PN} += "${PN}-avahi"
