//! Everything `morph` prints goes through here, for two reasons.
//!
//! **Guest text never reaches a terminal raw.** An extension writes its own id, name,
//! description, action and event names, schemas, outputs, error messages and logs; any
//! of them may carry an ANSI sequence that recolours the screen or retitles the window,
//! a carriage return that overwrites what the user just read, or a bidi override that
//! reorders it. [`is_unsafe`] names those characters once; [`escape`] shows them as
//! `\u{1b}`-style escapes in human output (error lines included), and [`json`] and
//! [`guest_json`] as `\u001b`-style escapes in JSON, where they stay valid JSON and mean
//! the same text.
//!
//! **A closed stdout ends the command quietly.** `morph describe x.wasm | head -1`
//! closes the pipe after one line; [`Out`] turns the `BrokenPipe` that follows into
//! [`Failure::Closed`] instead of the panic `println!` would raise.

use crate::exit::{Exit, Failure};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// Whether `c` must be escaped before it reaches a terminal: every control character
/// (C0 including newline, CR, tab, ESC and BEL; DEL; C1 including the 8-bit CSI `U+009B`
/// and NEL `U+0085`), the line and paragraph separators, and the bidi controls that
/// reorder the text around them (the "Trojan Source" set: `U+061C`, `U+200E`, `U+200F`,
/// `U+202A`..`U+202E`, `U+2066`..`U+2069`).
///
/// Other invisible characters (zero-width joiners in emoji, say) are left alone: they
/// neither move the cursor nor change the terminal's state.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every [`is_unsafe`] character escaped: `\n`, `\r` and `\t` by name, the
/// others as `\u{1b}` (Rust's notation, lowercase hex). Everything else, backslashes
/// included, is left as it is: the result is for people to read, not to parse back.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path for human output: displayed (lossy for non-UTF-8 names) and [`escape`]d, so a
/// file name holding a line break cannot forge a line of output.
pub fn path(path: &std::path::Path) -> String {
    escape(&path.display().to_string()).into_owned()
}

/// Appends `c` as a JSON escape (`\u001b`; a surrogate pair outside the BMP).
fn push_json_escape(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\u{unit:04x}");
    }
}

/// JSON that serde_json wrote for `morph` (pretty, from the description the host
/// decoded, say), with every [`is_unsafe`] character inside a string escaped: serde_json
/// escapes U+0000..U+001F itself but writes DEL, C1 controls and bidi overrides raw.
pub fn json(serialized: &str) -> String {
    let mut out = String::with_capacity(serialized.len());
    for c in serialized.chars() {
        // Outside strings serde_json writes only ASCII, and the only control character
        // it writes raw is the newline between lines of pretty output (inside strings it
        // writes `\n`). So every other unsafe character is inside a string.
        if c != '\n' && is_unsafe(c) {
            push_json_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text a guest wrote (an action's output), made safe to print and kept as the
/// guest wrote it otherwise: keys in the guest's order, numbers with the guest's digits.
/// Whitespace between tokens is dropped (so no carriage return or line break survives
/// outside a string) and every [`is_unsafe`] character inside a string becomes a JSON
/// escape; escapes the guest wrote stay as they are.
///
/// # Errors
/// Exit 6 when `text` is not JSON. The host checks outputs before handing them over, so
/// this is a second line of defence, not the check.
pub fn guest_json(text: &str) -> Result<String, Failure> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(Failure::new(
            Exit::ExtensionFault,
            format!("the extension's output is not JSON: {e}"),
        ));
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut after_backslash = false;
    for c in text.chars() {
        if in_string {
            if after_backslash {
                after_backslash = false;
                out.push(c);
            } else if c == '\\' {
                after_backslash = true;
                out.push(c);
            } else if c == '"' {
                in_string = false;
                out.push(c);
            } else if is_unsafe(c) {
                push_json_escape(&mut out, c);
            } else {
                out.push(c);
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            // Valid JSON has only ASCII tokens here.
            out.push(c);
        }
    }
    Ok(out)
}

/// The command's standard output. `writeln!(out, ...)?` works on it and fails with a
/// [`Failure`]: [`Failure::Closed`] when the reader has gone (a closed pipe), exit 1
/// for any other write error.
pub struct Out<W: Write> {
    inner: W,
}

impl<W: Write> Out<W> {
    /// Output to `inner` (a locked stdout; a `Vec<u8>` in tests).
    pub fn new(inner: W) -> Self {
        Out { inner }
    }

    /// What `write!` and `writeln!` call.
    ///
    /// # Errors
    /// As [`Out`].
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<(), Failure> {
        self.inner.write_fmt(args).map_err(write_failure)
    }

    /// Flushes what is still buffered.
    ///
    /// # Errors
    /// As [`Out`].
    pub fn finish(mut self) -> Result<W, Failure> {
        self.inner.flush().map_err(write_failure)?;
        Ok(self.inner)
    }
}

fn write_failure(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Failure::Closed
    } else {
        Failure::new(
            Exit::Internal,
            format!("cannot write to standard output: {e}"),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn escape_shows_terminal_controls_and_keeps_text() {
        assert_eq!(escape("plain text, ünïcödé, 👩‍💻"), "plain text, ünïcödé, 👩‍💻");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(escape("ok\rFAKE"), "ok\\rFAKE");
        assert_eq!(escape("two\nlines\tand tab"), "two\\nlines\\tand tab");
        assert_eq!(escape("bell\u{7}"), "bell\\u{7}");
        assert_eq!(
            escape("del\u{7f} csi\u{9b}2J nel\u{85}"),
            "del\\u{7f} csi\\u{9b}2J nel\\u{85}"
        );
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("\u{2066}iso\u{2069}"), "\\u{2066}iso\\u{2069}");
        assert_eq!(escape("line\u{2028}sep"), "line\\u{2028}sep");
        assert_eq!(escape("nul\0"), "nul\\u{0}");
        // Backslashes are not doubled: the library already escapes some of its text.
        assert_eq!(escape(r"a\nb"), r"a\nb");
    }

    #[test]
    fn every_unsafe_character_is_escaped() {
        for c in (0u32..0x3000)
            .filter_map(char::from_u32)
            .filter(|c| is_unsafe(*c))
        {
            let text = c.to_string();
            let escaped = escape(&text);
            assert!(!escaped.chars().any(is_unsafe), "{c:?} -> {escaped:?}");
        }
    }

    #[test]
    fn json_escapes_what_serde_json_writes_raw() {
        let value = serde_json::json!({"a": "x\u{202e}y\u{9b}z\u{7f}", "b": "\u{1b}\n"});
        let text = json(&serde_json::to_string_pretty(&value).unwrap());
        assert_eq!(
            text,
            "{\n  \"a\": \"x\\u202ey\\u009bz\\u007f\",\n  \"b\": \"\\u001b\\n\"\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn guest_json_keeps_order_and_escapes_strings() {
        let raw = "{\"z\" : 1,\r\n \"a\":\"x\u{202e}y \\\"q\\\" \u{9b}\\u001b\"}\r";
        let safe = guest_json(raw).unwrap();
        assert_eq!(
            safe,
            "{\"z\":1,\"a\":\"x\\u202ey \\\"q\\\" \\u009b\\u001b\"}"
        );
        let before: serde_json::Value = serde_json::from_str(raw).unwrap();
        let after: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(before, after);
        assert_eq!(guest_json("[1, 2.50, -3e2]").unwrap(), "[1,2.50,-3e2]");
        assert_eq!(guest_json("\"\\\\\"").unwrap(), "\"\\\\\"");
        assert!(guest_json("{not json").is_err());
        // Outside the BMP: a surrogate pair (not unsafe, so kept raw).
        assert_eq!(guest_json("\"🦀\"").unwrap(), "\"🦀\"");
        let mut s = String::new();
        push_json_escape(&mut s, '🦀');
        assert_eq!(s, "\\ud83e\\udd80");
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_stop() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Out::new(Closed);
        assert!(matches!(writeln!(out, "x"), Err(Failure::Closed)));

        let mut out = Out::new(Vec::new());
        writeln!(out, "a {}", 1).unwrap();
        assert_eq!(out.finish().unwrap(), b"a 1\n");
    }
}
