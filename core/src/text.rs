//! Third-party text made safe for a terminal.
//!
//! App names, logins, grant ids, scopes, connector messages and manifest text come
//! from providers and plugins; the vendor registry comes from whoever edits it.
//! Printed as they are, an ESC or C1 sequence moves the cursor and erases lines (a
//! principal id holding `ESC[1A ESC[2K` hides the plan line above it, in the plan
//! the operator approves), sets the window title or writes the operator's clipboard
//! (OSC 52); a bidirectional override makes a line read differently from what it
//! holds; a newline or tab inside one field breaks the layout of a listing.
//! [`escape`] shows each such character as a visible escape (`\x1b`, `\n`,
//! `\u{202e}`) so the operator sees that something was there, and leaves every
//! other character — letters of any script, emoji — as it is.
//!
//! The CLI prints every third-party string through [`Shown`] (or [`ShownLines`] for
//! its own multi-line messages); the plugin host escapes a guest's messages with
//! [`escape`] before they become part of an error, a log line or the journal.
//!
//! A backslash is not escaped: ids such as `CORP\alice` stay as they are, at the
//! cost that a name spelling `\x1b` literally reads like one that held an ESC —
//! harmless, since neither acts on the terminal.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// True for the bidirectional formatting characters, which reorder the text around
/// them: U+061C, U+200E, U+200F, U+202A–U+202E and U+2066–U+2069.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// True for a character that must not reach a terminal as it is: C0 controls (tab
/// and newline included: one field must not break a line), DEL, C1 controls
/// (U+0080–U+009F, which some terminals obey like ESC sequences), the Unicode line
/// and paragraph separators, and the bidirectional formatting characters.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Writes the visible escape of `c`: `\t`, `\n`, `\r`, `\xNN` for the other C0
/// controls and DEL, `\u{NNNN}` for everything else.
fn write_escaped(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\t' => out.write_str("\\t"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c if u32::from(c) < 0x80 => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// `s` with every character [`is_unsafe`] finds replaced by its visible escape;
/// borrowed when there was nothing to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            // Writing to a String cannot fail.
            let _ = write_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Third-party text for a terminal: displays [`escape`]d, with the width, fill and
/// alignment of the format (`{:<24}`) applied as to a `&str`.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&escape(self.0))
    }
}

/// A message this program composed over several lines (an error with an example),
/// which may quote third-party text: displays like [`Shown`] but keeps its line
/// breaks (`\n`).
#[derive(Debug, Clone, Copy)]
pub struct ShownLines<'a>(pub &'a str);

impl fmt::Display for ShownLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.split('\n').enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            f.write_str(&escape(line))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(escape(input), expected, "{input:?}");
        assert_eq!(Shown(input).to_string(), expected, "{input:?}");
    }

    #[test]
    fn ordinary_text_is_unchanged_and_borrowed() {
        for s in [
            "",
            "Sample Client profile",
            "isaac.brock@example.com",
            "CORP\\alice",
            "okta/acme-okta/app-grant:oag91n9ruw3dsaXzP0h6",
            "Zürich Ålesund Łódź",
            "Ελληνικά Кириллица",
            "שלום עליכם",
            "العربية",
            "日本語のアプリ",
            "🚀 Rocket 👩‍👩‍👧 family ❤️",
            "«quoted» — dash … ellipsis",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s:?}");
            check(s, s);
        }
    }

    #[test]
    fn c0_controls_and_del_are_escaped_visibly() {
        check("a\u{1b}[1A\u{1b}[2Kb", "a\\x1b[1A\\x1b[2Kb");
        check("\u{1b}]52;c;SGVsbG8=\u{7}", "\\x1b]52;c;SGVsbG8=\\x07");
        check("one\ntwo\r\nthree\tfour", "one\\ntwo\\r\\nthree\\tfour");
        check("\u{0}\u{8}\u{c}\u{1f}\u{7f}", "\\x00\\x08\\x0c\\x1f\\x7f");
        for c in (0u8..0x20).chain([0x7f]) {
            let escaped = escape(&char::from(c).to_string()).into_owned();
            assert!(escaped.starts_with('\\'), "{c:#x}: {escaped:?}");
            assert!(!escaped.chars().any(char::is_control), "{c:#x}");
        }
    }

    #[test]
    fn c1_controls_are_escaped_visibly() {
        // CSI (U+009B) and OSC (U+009D) act like ESC [ and ESC ] on some terminals.
        check("\u{9b}1A\u{9b}2K", "\\u{9b}1A\\u{9b}2K");
        check("\u{9d}52;c;SGVsbG8=\u{9c}", "\\u{9d}52;c;SGVsbG8=\\u{9c}");
        check("\u{85}", "\\u{85}");
        for c in 0x80u32..=0x9f {
            let c = char::from_u32(c).unwrap_or_else(|| panic!("{c:#x}"));
            assert_eq!(escape(&c.to_string()), format!("\\u{{{:x}}}", u32::from(c)));
        }
    }

    #[test]
    fn bidirectional_formatting_and_line_separators_are_escaped_visibly() {
        check("abc\u{202e}fdp.exe", "abc\\u{202e}fdp.exe");
        check("\u{61c}\u{200e}\u{200f}", "\\u{61c}\\u{200e}\\u{200f}");
        check(
            "\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}",
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}",
        );
        check(
            "\u{2066}x\u{2067}y\u{2068}z\u{2069}",
            "\\u{2066}x\\u{2067}y\\u{2068}z\\u{2069}",
        );
        check("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c");
        // The characters around them are not caught by accident.
        for c in [
            '\u{61b}', '\u{61d}', '\u{200d}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn width_and_alignment_apply_to_the_escaped_text() {
        assert_eq!(format!("[{:<6}]", Shown("ab")), "[ab    ]");
        assert_eq!(format!("[{:>6}]", Shown("a\tb")), "[  a\\tb]");
    }

    #[test]
    fn shown_lines_keeps_line_breaks_only() {
        assert_eq!(
            ShownLines("error: `x\u{1b}[2K`\n\n[[policy]]\r\tname").to_string(),
            "error: `x\\x1b[2K`\n\n[[policy]]\\r\\tname"
        );
    }
}
