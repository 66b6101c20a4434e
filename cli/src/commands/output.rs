//! How the user commands print: kubectl-style aligned tables, `-o json`
//! and `-o yaml`, ages (`5m`, `3h12m`, `4d`), short ids, and colour only
//! for a person at a terminal.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How many characters of an id the tables show.
pub const SHORT_ID: usize = 8;

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    /// The table with more columns.
    Wide,
    Json,
    Yaml,
}

impl Format {
    pub fn is_table(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// The first [`SHORT_ID`] characters of an id.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(SHORT_ID) {
        Some((at, _)) => &id[..at],
        None => id,
    }
}

/// Time since `then`, as kubectl shows it: precise when recent, coarse
/// when old; `<unknown>` without a time.
pub fn age(then: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(then) = then else {
        return "<unknown>".to_string();
    };
    // A clock a little behind the server's should not show a negative age.
    let secs = (now - then).num_seconds().max(0);
    human_duration(secs)
}

/// Seconds as `45s`, `3m20s`, `15m`, `2h5m`, `5h`, `3d4h`, `90d`, `2y`.
pub fn human_duration(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        match secs % 60 {
            0 => format!("{m}m"),
            s => format!("{m}m{s}s"),
        }
    } else if h < 3 {
        match m % 60 {
            _ if h == 0 => format!("{m}m"),
            0 => format!("{h}h"),
            rest => format!("{h}h{rest}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        match h % 24 {
            0 => format!("{d}d"),
            rest => format!("{d}d{rest}h"),
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// A time as the describe pages show it (UTC, to the second).
pub fn timestamp(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "-".to_string(),
    }
}

/// A time with its age: `2024-05-01T10:00:00Z (3m ago)`.
pub fn timestamp_ago(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(_) => format!("{} ({} ago)", timestamp(t), age(t, now)),
        None => "-".to_string(),
    }
}

/// Whether to colour what goes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour for tables and describe pages on a terminal, unless
    /// `NO_COLOR` is set; never for machine formats.
    pub fn detect(format: Format) -> Style {
        let color = format.is_table()
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Style { color }
    }

    #[cfg(test)]
    pub const PLAIN: Style = Style { color: false };

    /// Wraps a status word in the colour that says good/waiting/bad.
    pub fn status(self, word: &str) -> String {
        if !self.color {
            return word.to_string();
        }
        let code = match word {
            "running" | "ready" | "eligible" | "healthy" | "successful" | "complete"
            | "passing" => "32",
            "pending" | "starting" | "queued" | "initializing" | "draining" | "unknown"
            | "warning" => "33",
            "failed" | "lost" | "down" | "disconnected" | "ineligible" | "dead" | "critical" => {
                "31"
            }
            _ => return word.to_string(),
        };
        format!("\x1b[{code}m{word}\x1b[0m")
    }

    pub fn bold(self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Display width ignoring ANSI colour sequences.
fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// A table with a header row, columns padded to their widest cell and
/// separated by three spaces (kubectl's look).
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each ending in `\n`.
    pub fn render(&self) -> String {
        self.render_indented("")
    }

    /// As [`Table::render`], every line starting with `indent`.
    pub fn render_indented(&self, indent: &str) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| visible_width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(visible_width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::from(indent);
            let last = line.len().saturating_sub(1);
            for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
                text.push_str(cell);
                if i < last {
                    let pad = w - visible_width(cell) + 3;
                    let _ = write!(text, "{:pad$}", "");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key = value` lines with the keys padded to one width, as `nomad
/// status` prints an object's fields.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$} = {v}");
    }
    out
}

/// Prints `value` as JSON (pretty, with a final newline) or YAML.
pub fn print_machine<T: Serialize>(format: Format, value: &T) -> anyhow::Result<()> {
    let text = match format {
        Format::Yaml => serde_yaml_ng::to_string(value)?,
        _ => serde_json::to_string_pretty(value)? + "\n",
    };
    print!("{text}");
    Ok(())
}

/// A list of words, or `<none>`.
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "<none>".to_string()
    } else {
        items.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell_and_trim_the_end() {
        let mut t = Table::new(&["NAME", "STATUS", "AGE"]);
        t.row(vec!["web".into(), "running".into(), "5m".into()]);
        t.row(vec!["a-longer-name".into(), "pending".into()]);
        assert_eq!(
            t.render(),
            "NAME            STATUS    AGE\n\
             web             running   5m\n\
             a-longer-name   pending\n"
        );
    }

    #[test]
    fn colour_does_not_count_towards_the_width() {
        let style = Style { color: true };
        let mut t = Table::new(&["A", "B"]);
        t.row(vec![style.status("running"), "x".into()]);
        t.row(vec!["ok".into(), "y".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "A         B");
        assert_eq!(lines[1], "\x1b[32mrunning\x1b[0m   x");
        assert_eq!(lines[2], "ok        y");
        assert_eq!(Style::PLAIN.status("running"), "running");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (900, "15m"),
            (2 * 3600 + 5 * 60, "2h5m"),
            (2 * 3600, "2h"),
            (5 * 3600 + 59, "5h"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (90 * 86_400, "90d"),
            (800 * 86_400, "2y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
        let now = Utc::now();
        assert_eq!(age(None, now), "<unknown>");
        assert_eq!(age(Some(now + chrono::Duration::seconds(5)), now), "0s");
        assert_eq!(age(Some(now - chrono::Duration::seconds(42)), now), "42s");
    }

    #[test]
    fn short_ids_are_eight_characters() {
        assert_eq!(short_id("0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id(""), "");
    }

    #[test]
    fn fields_pad_their_keys() {
        assert_eq!(
            fields(&[("ID", "web".into()), ("Priority", "50".into())]),
            "ID       = web\nPriority = 50\n"
        );
    }

    #[test]
    fn machine_formats_never_colour() {
        assert!(!Style::detect(Format::Json).color);
        assert!(!Style::detect(Format::Yaml).color);
    }
}
