//! Any bytes as lines a printer sends back (line noise, odd firmware, a hostile device on the port): each
//! line is classified without a panic, and the G-code helpers the driver applies to its own commands cope
//! with any text too.
//!
//! The check of the `marlin_line` fuzz target: libFuzzer runs it (`fuzz_targets/marlin_line.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use printers::marlin::protocol::{self, Response};

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        match Response::parse(line) {
            Response::Resend(_) | Response::Start | Response::Busy => {}
            Response::Ok { .. } | Response::Temperatures(_) | Response::Position(_) => {}
            Response::Firmware(f) => assert!(f.fields.iter().any(|(k, _)| k == "FIRMWARE_NAME")),
            Response::LineError(t) | Response::FatalError(t) | Response::Other(t) => assert!(!t.contains('\n')),
            Response::Capability(name, _) => assert!(!name.contains('\n')),
        }
        let _ = protocol::parse_firmware(line);
        if let Some(code) = protocol::strip_comment(line) {
            assert!(!code.contains(';') && !code.is_empty());
            let _ = protocol::command_word(code);
            for letter in ['X', 'Y', 'Z', 'E', 'F', 'S', 'N'] {
                let _ = protocol::param(code, letter);
            }
        }
        let framed = protocol::frame(7, line);
        let (body, cs) = framed.rsplit_once('*').expect("a frame ends in *checksum");
        assert_eq!(cs.parse::<u8>().ok(), Some(protocol::checksum(body)));
    }
}
