//! The one error type for loading, checking, overriding and importing settings.

/// Why a profile could not be loaded, changed or accepted. Every variant names the setting or line at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A value outside what the slicer or the hardware can use.
    #[error("{field} = {value} is out of range (allowed: {allowed})")]
    OutOfRange { field: String, value: String, allowed: String },
    /// A value that is well-formed but unusable for another reason.
    #[error("{field} = {value:?} is invalid: {reason}")]
    Invalid { field: String, value: String, reason: String },
    /// A `{name}` in a G-code template that is not in [`super::PLACEHOLDERS`].
    #[error("unknown placeholder {{{name}}} in {field} (known: {known})")]
    UnknownPlaceholder { name: String, field: String, known: String },
    /// TOML that does not parse or does not match the profile's shape.
    #[error("invalid {what} TOML: {message}")]
    Toml { what: &'static str, message: String },
    /// A `--set` key that names no setting.
    #[error("unknown setting `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey { key: String, suggestion: Option<String> },
    /// A bare `--set` key that matches settings in more than one place.
    #[error("setting `{key}` is ambiguous; use one of: {}", candidates.join(", "))]
    AmbiguousKey { key: String, candidates: Vec<String> },
    /// A `--set` value that does not fit the setting's type.
    #[error("cannot set `{key}` to {value:?}: {expected}")]
    BadValue { key: String, value: String, expected: String },
    /// A malformed line (or value) in a PrusaSlicer config.
    #[error("PrusaSlicer config line {line}: {message}")]
    Ini { line: usize, message: String },
    /// A preset id that is not embedded.
    #[error("unknown {kind} preset `{id}` (available: {})", available.join(", "))]
    UnknownPreset { kind: &'static str, id: String, available: Vec<String> },
}

/// Shorthand for the range errors that validation produces.
pub(crate) fn out_of_range(field: &str, value: impl std::fmt::Display, allowed: impl Into<String>) -> SettingsError {
    SettingsError::OutOfRange { field: field.into(), value: value.to_string(), allowed: allowed.into() }
}
