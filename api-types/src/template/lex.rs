//! The template lexer: literal text and actions between delimiters, each
//! action split into tokens with their byte offsets (for line:col errors),
//! trim markers and comments applied.

use super::{At, Parsed};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Number(String),
    /// `.Field`, `$var` and the like: data drover has no model for.
    Data(String),
    Pipe,
    Open,
    Close,
    Punct(char),
}

pub(super) enum Item {
    Text(String),
    /// The tokens of one action with their offsets, and where it starts.
    Action(Vec<(Tok, usize)>, usize),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(super) fn lex(text: &str, left: &str, right: &str) -> Parsed<Vec<Item>> {
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    loop {
        let rest = &text[pos..];
        let Some(found) = rest.find(left) else {
            let t = if trim_next {
                rest.trim_start_matches(is_space)
            } else {
                rest
            };
            items.push(Item::Text(t.to_string()));
            return Ok(items);
        };
        let start = pos + found;
        let mut inner = start + left.len();
        // As in Go, `{{-` trims only when followed by a space: `{{-3}}` is -3.
        let trim_before = text[inner..].starts_with('-') && text[inner + 1..].starts_with(is_space);
        let mut t = &text[pos..start];
        if trim_next {
            t = t.trim_start_matches(is_space);
        }
        if trim_before {
            t = t.trim_end_matches(is_space);
            inner += 1;
        }
        items.push(Item::Text(t.to_string()));
        let (toks, end, trim_after) = lex_action(text, inner, start, right)?;
        if let Some(toks) = toks {
            items.push(Item::Action(toks, start));
        }
        pos = end;
        trim_next = trim_after;
    }
}

/// The tokens of the action whose body starts at `p` (None for a comment),
/// the offset after its right delimiter, and whether it ends with `-}}`.
#[allow(clippy::type_complexity)]
fn lex_action(
    text: &str,
    mut p: usize,
    start: usize,
    right: &str,
) -> Parsed<(Option<Vec<(Tok, usize)>>, usize, bool)> {
    let unclosed = || At(start, format!("unclosed action: no {right:?} after it"));
    // `-}}` closes (and trims) only after a space, as `{{-` opens.
    let close_at = |p: usize, spaced: bool| -> Option<(usize, bool)> {
        if text[p..].starts_with(right) {
            Some((p + right.len(), false))
        } else if spaced && text[p..].starts_with('-') && text[p + 1..].starts_with(right) {
            Some((p + 1 + right.len(), true))
        } else {
            None
        }
    };
    let skip_space =
        |p: usize| -> usize { p + text[p..].len() - text[p..].trim_start_matches(is_space).len() };
    let q = skip_space(p);
    if text[q..].starts_with("/*") {
        let Some(end) = text[q + 2..].find("*/") else {
            return Err(At(q, "unclosed comment: no \"*/\" after it".into()));
        };
        let after = q + 2 + end + 2;
        let r = skip_space(after);
        return match close_at(r, r > after) {
            Some((next, trim)) => Ok((None, next, trim)),
            None => Err(At(
                after,
                format!("a comment must end right before {right:?}"),
            )),
        };
    }
    let mut toks = Vec::new();
    let mut spaced = true;
    loop {
        let q = skip_space(p);
        spaced = spaced || q > p;
        p = q;
        if p >= text.len() {
            return Err(unclosed());
        }
        if let Some((next, trim)) = close_at(p, spaced) {
            return Ok((Some(toks), next, trim));
        }
        spaced = false;
        let rest = &text[p..];
        let Some(c) = rest.chars().next() else {
            return Err(unclosed());
        };
        let (tok, len) = match c {
            '"' => lex_quoted(rest, p)?,
            '`' => match rest[1..].find('`') {
                Some(end) => (Tok::Str(rest[1..1 + end].to_string()), end + 2),
                None => return Err(At(p, "unterminated raw string".into())),
            },
            '|' => (Tok::Pipe, 1),
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            c if c.is_alphabetic() || c == '_' => {
                let len = word_len(rest);
                (Tok::Ident(rest[..len].to_string()), len)
            }
            '.' | '$' => {
                let len = 1 + word_len(&rest[1..]);
                (Tok::Data(rest[..len].to_string()), len)
            }
            c if c.is_ascii_digit()
                || (matches!(c, '-' | '+')
                    && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
            {
                let len = 1 + rest[1..]
                    .find(|d: char| !(d.is_ascii_alphanumeric() || d == '.' || d == '_'))
                    .unwrap_or(rest.len() - 1);
                (Tok::Number(rest[..len].to_string()), len)
            }
            c => (Tok::Punct(c), c.len_utf8()),
        };
        toks.push((tok, p));
        p += len;
    }
}

fn word_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// A Go double-quoted string at the start of `s` (at `offset` in the text):
/// its value and length.
fn lex_quoted(s: &str, offset: usize) -> Parsed<(Tok, usize)> {
    let mut bytes = Vec::new();
    let mut chars = s.char_indices().skip(1);
    let unterminated = || At(offset, "unterminated quoted string".into());
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                return String::from_utf8(bytes)
                    .map(|v| (Tok::Str(v), i + 1))
                    .map_err(|_| At(offset, "the string is not valid UTF-8".into()));
            }
            '\n' => return Err(unterminated()),
            '\\' => {
                let Some((j, e)) = chars.next() else {
                    return Err(unterminated());
                };
                let mut hex = |n: usize, radix: u32| -> Parsed<u32> {
                    let digits: String = (0..n)
                        .filter_map(|_| chars.next().map(|(_, d)| d))
                        .collect();
                    u32::from_str_radix(&digits, radix)
                        .ok()
                        .filter(|_| {
                            digits.chars().count() == n && digits.chars().all(|d| d.is_digit(radix))
                        })
                        .ok_or_else(|| {
                            At(
                                offset + j - 1,
                                format!("invalid escape \\{e}{digits} in string"),
                            )
                        })
                };
                let simple = match e {
                    'a' => Some(0x07),
                    'b' => Some(0x08),
                    'f' => Some(0x0c),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(0x0b),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    bytes.push(b);
                    continue;
                }
                let code = match e {
                    'x' => {
                        // Go's \x is a byte, not a character.
                        bytes.push(hex(2, 16)? as u8);
                        continue;
                    }
                    '0'..='7' => {
                        let rest = hex(2, 8)?;
                        let value = (e as u32 - '0' as u32) * 64 + rest;
                        let byte = u8::try_from(value).map_err(|_| {
                            At(
                                offset + j - 1,
                                format!("invalid escape \\{e} in string: octal value over 255"),
                            )
                        })?;
                        bytes.push(byte);
                        continue;
                    }
                    'u' => hex(4, 16)?,
                    'U' => hex(8, 16)?,
                    other => {
                        return Err(At(
                            offset + j - 1,
                            format!("invalid escape \\{other} in string"),
                        ))
                    }
                };
                let c = char::from_u32(code).ok_or_else(|| {
                    At(
                        offset + j - 1,
                        format!("invalid escape: U+{code:X} is not a character"),
                    )
                })?;
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            c => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err(unterminated())
}
