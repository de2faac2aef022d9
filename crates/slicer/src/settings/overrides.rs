//! `--set key=value` overrides, generic over every setting.
//!
//! The profile is turned into a TOML tree, the dotted key is found in it, the text is parsed as the type the
//! tree already holds there, and the tree is deserialized back; so new fields are settable without a table here,
//! and enum values are checked by serde with its list of variants.

use toml::Value;

use super::{Profile, SettingsError};

impl Profile {
    /// Sets one setting from text: `quality.layer_height` = `0.3`, `quality.infill_pattern` = `gyroid`, or a bare
    /// key that is unique across the three profiles (`layer_height`). Arrays take TOML syntax (`[[32, 32]]`).
    /// The result is not validated here, since later overrides may fix an intermediate state; call
    /// [`Profile::validate`] after the last one.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingsError> {
        let mut root = tree(self);
        let path = resolve(&root, key.trim())?;
        let slot = path.split('.').try_fold(&mut root, |v, seg| v.get_mut(seg)).expect("resolved paths exist");
        let bad = |expected: String| SettingsError::BadValue { key: path.clone(), value: value.into(), expected };
        *slot = parse_like(slot, value.trim()).map_err(bad)?;
        *self = root.try_into().map_err(|e: toml::de::Error| bad(e.message().trim_end().to_string()))?;
        Ok(())
    }

    /// Applies one `key=value` argument as given to `--set`.
    pub fn set_arg(&mut self, assignment: &str) -> Result<(), SettingsError> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(SettingsError::BadValue {
                key: assignment.into(),
                value: String::new(),
                expected: "an assignment written key=value".into(),
            });
        };
        self.set(key, value)
    }

    /// Every settable dotted key (`printer.bed.x`, `quality.speeds.infill`, …), sorted.
    pub fn setting_keys(&self) -> Vec<String> {
        leaves(&tree(self))
    }
}

fn tree(p: &Profile) -> Value {
    Value::try_from(p).expect("profiles are plain tables of numbers, strings and arrays")
}

/// Dotted paths of every non-table value.
fn leaves(root: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Table(t) => {
                for (k, child) in t {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(child, &path, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// Turns a full or bare key into the full dotted path of one leaf.
fn resolve(root: &Value, key: &str) -> Result<String, SettingsError> {
    let keys = leaves(root);
    if keys.iter().any(|k| k == key) {
        return Ok(key.to_string());
    }
    let group = format!("{key}.");
    let members: Vec<&String> = keys.iter().filter(|k| k.starts_with(&group)).collect();
    if !members.is_empty() {
        return Err(SettingsError::BadValue {
            key: key.into(),
            value: String::new(),
            expected: format!(
                "`{key}` is a group; set one of: {}",
                members.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let suffix = format!(".{key}");
    let matches: Vec<String> = keys.iter().filter(|k| k.ends_with(&suffix)).cloned().collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one match")),
        0 => Err(SettingsError::UnknownKey { key: key.into(), suggestion: closest(&keys, key) }),
        _ => Err(SettingsError::AmbiguousKey { key: key.into(), candidates: matches }),
    }
}

/// The valid key nearest to a typo, comparing against full paths and against their bare tails.
fn closest(keys: &[String], key: &str) -> Option<String> {
    keys.iter()
        .map(|k| {
            let tails = k.match_indices('.').map(|(i, _)| &k[i + 1..]);
            let d = std::iter::once(k.as_str()).chain(tails).map(|t| levenshtein(t, key)).min().unwrap_or(usize::MAX);
            (d, k)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Parses `text` as the same TOML type as `current`; the error says what was expected.
fn parse_like(current: &Value, text: &str) -> Result<Value, String> {
    match current {
        Value::String(_) => Ok(Value::String(text.to_string())),
        Value::Integer(_) => text.parse().map(Value::Integer).map_err(|_| "expected a whole number".into()),
        Value::Float(_) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Value::Float(v)),
            _ => Err("expected a number".into()),
        },
        Value::Boolean(_) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err("expected true or false".into()),
        },
        // Arrays (thumbnails) take TOML's own syntax so nesting is unambiguous.
        Value::Array(_) => format!("v = {text}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(Value::is_array)
            .ok_or_else(|| "expected a TOML array such as [[32, 32], [220, 124]]".into()),
        Value::Table(_) | Value::Datetime(_) => Err("not a single value".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::InfillPattern;
    use super::*;

    #[test]
    fn sets_numbers_strings_enums_bools_and_arrays() {
        let mut p = Profile::default();
        p.set("quality.layer_height", "0.3").unwrap();
        p.set("material.temperature", "220").unwrap();
        p.set("quality.speeds.infill", "100").unwrap();
        p.set("quality.infill_pattern", "gyroid").unwrap();
        p.set("quality.perimeters", "4").unwrap();
        p.set("quality.supports.enabled", "yes").unwrap();
        p.set("printer.bed.x", "250").unwrap();
        p.set("printer.flavour", "klipper").unwrap();
        p.set("material.name", "Farm PLA = blue").unwrap();
        p.set_arg("quality.thumbnails=[[16, 16]]").unwrap();
        assert_eq!(p.quality.layer_height, 0.3);
        assert_eq!(p.material.temperature, 220.0);
        assert_eq!(p.quality.speeds.infill, 100.0);
        assert_eq!(p.quality.infill_pattern, InfillPattern::Gyroid);
        assert_eq!(p.quality.perimeters, 4);
        assert!(p.quality.supports.enabled);
        assert_eq!(p.printer.bed.size(), (250.0, 220.0));
        assert_eq!(p.material.name, "Farm PLA = blue");
        assert_eq!(p.quality.thumbnails, vec![[16, 16]]);
    }

    #[test]
    fn bare_keys_when_unique() {
        let mut p = Profile::default();
        p.set_arg("layer_height=0.12").unwrap();
        p.set("speeds.travel", "180").unwrap();
        p.set("first_layer_temperature", "200").unwrap();
        assert_eq!((p.quality.layer_height, p.quality.speeds.travel), (0.12, 180.0));
        assert_eq!(p.material.first_layer_temperature, 200.0);
        let e = p.set("name", "x").unwrap_err().to_string();
        assert_eq!(e, "setting `name` is ambiguous; use one of: material.name, printer.name, quality.name");
    }

    #[test]
    fn errors_are_specific() {
        let mut p = Profile::default();
        let before = p.clone();
        let e = p.set("quality.layer_heigth", "0.3").unwrap_err().to_string();
        assert_eq!(e, "unknown setting `quality.layer_heigth`; did you mean `quality.layer_height`?");
        let e = p.set("infil_density", "0.3").unwrap_err().to_string();
        assert!(e.ends_with("did you mean `quality.infill_density`?"), "{e}");
        let e = p.set("quality.infill_pattern", "lightning").unwrap_err().to_string();
        assert!(e.contains("quality.infill_pattern") && e.contains("gyroid"), "{e}");
        let e = p.set("quality.layer_height", "thin").unwrap_err().to_string();
        assert_eq!(e, "cannot set `quality.layer_height` to \"thin\": expected a number");
        assert!(p.set("quality.layer_height", "NaN").is_err());
        assert!(p.set("quality.perimeters", "-1").unwrap_err().to_string().contains("quality.perimeters"));
        assert!(p.set("quality.perimeters", "2.5").unwrap_err().to_string().contains("whole number"));
        assert!(p.set("quality.speeds", "5").unwrap_err().to_string().contains("quality.speeds.infill"));
        assert!(p.set_arg("layer_height").unwrap_err().to_string().contains("key=value"));
        assert_eq!(p, before, "failed overrides leave the profile untouched");
    }

    #[test]
    fn every_key_accepts_its_own_value() {
        let mut p = Profile::default();
        p.quality.layer_height = 0.17;
        let root = tree(&p);
        let keys = p.setting_keys();
        assert!(keys.len() > 60, "{}", keys.len());
        for key in keys {
            let v = key.split('.').try_fold(&root, |v, s| v.get(s)).unwrap();
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut q = Profile::default();
            q.set(&key, &text).unwrap_or_else(|e| panic!("{key}: {e}"));
            let after = tree(&q);
            assert_eq!(key.split('.').try_fold(&after, |v, s| v.get(s)), Some(v), "{key}");
        }
    }
}
