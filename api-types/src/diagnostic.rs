//! Errors and warnings about a job file, with where and what to change.
//!
//! Parsers report a [`Location`] (`file:line:col`); semantic validation reports
//! an object path (`job "web" group "api" task "api"`). Both print the same way.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Location {
    /// The location of byte `offset` in `source`.
    pub fn from_offset(file: &str, source: &str, offset: usize) -> Self {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Location {
            file: file.to_string(),
            line,
            column,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Option<Location>,
    /// Object path such as `job "web" group "api"`; empty at file level.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            location: None,
            path: String::new(),
            message: message.into(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn in_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        f.write_str(match self.severity {
            Severity::Error => "error: ",
            Severity::Warning => "warning: ",
        })?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The closest candidate to `input`, if any is close enough to suggest.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)` or nothing, ready to append to a message.
pub fn suggestion_suffix<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(input, candidates)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_from_offset_counts_lines_and_chars() {
        let src = "job \"a\" {\n  grüp \"b\" {}\n}\n";
        let offset = src.find("\"b\"").unwrap_or(0);
        let loc = Location::from_offset("x.nomad", src, offset);
        assert_eq!((loc.line, loc.column), (2, 8));
        assert_eq!(loc.to_string(), "x.nomad:2:8");
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["group", "task", "constraint"];
        assert_eq!(did_you_mean("grup", names), Some("group"));
        assert_eq!(did_you_mean("constrant", names), Some("constraint"));
        assert_eq!(did_you_mean("zzzz", names), None);
    }

    #[test]
    fn display_puts_location_then_path() {
        let d = Diagnostic::error("count must not be negative")
            .in_path("job \"a\" group \"b\"")
            .at(Location {
                file: "a.nomad".into(),
                line: 3,
                column: 5,
            });
        assert_eq!(
            d.to_string(),
            "a.nomad:3:5: error: job \"a\" group \"b\": count must not be negative"
        );
    }
}
