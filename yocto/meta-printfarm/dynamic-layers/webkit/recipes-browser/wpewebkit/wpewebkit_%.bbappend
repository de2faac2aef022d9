# meta-webkit turns on speech synthesis, which needs flite, and no layer we build with provides flite
# (`bitbake -g printfarm-kiosk-image`: "Nothing PROVIDES 'flite'"). The kiosk never speaks.
PACKAGECONFIG:remove:printfarm-os = "speech-synthesis"
