//! Any bytes as a prompt: parsing and matching must never panic, scores stay in 0..=1 and every
//! template's parameters come back resolved (within their ranges).
//!
//! The check of the `prompt` fuzz target: libFuzzer runs it (`fuzz_targets/prompt.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use genai::procedural::{match_prompt, ParamKind, Template, Value};

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = genai::prompt::parse(&text);
    let matches = match_prompt(&parsed);
    assert_eq!(matches.len(), Template::ALL.len());
    for m in matches {
        assert!((0.0..=1.0).contains(&m.score));
        for spec in m.template.params() {
            match (&spec.kind, m.params.values.get(spec.key)) {
                (ParamKind::Number { min, max, .. }, Some(Value::Number(v))) => assert!(v >= min && v <= max),
                (ParamKind::Toggle { .. }, Some(Value::Number(v))) => assert!(*v == 0.0 || *v == 1.0),
                (ParamKind::Choice { options, .. }, Some(Value::Text(s))) => assert!(options.contains(&s.as_str())),
                (ParamKind::Text { max_chars, .. }, Some(Value::Text(s))) => assert!(s.chars().count() <= *max_chars),
                (kind, v) => panic!("{} is {v:?} for {kind:?}", spec.key),
            }
        }
    }
}
