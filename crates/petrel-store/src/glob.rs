//! Redis's glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET).
//!
//! A line-by-line port of `stringmatchlen` from Redis 7's `util.c`, quirks
//! included: an unclosed `[` matches as if closed at the end of the pattern,
//! a range's ends may come in either order, a backslash inside a class
//! escapes the next byte, and more than 1000 nested `*` never match (Redis's
//! protection against abusive patterns). It must not allocate.

/// Redis's limit on `*` recursion depth.
const NESTING_MAX: u32 = 1000;

/// Whether `text` matches `pattern` as Redis's `stringmatchlen` decides:
/// `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` escapes. With `nocase`,
/// ASCII letters match either case.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_from(pattern, text, nocase, &mut skip_longer_matches, 0)
}

/// The byte at `index`, or 0 past the end: Redis reads the C string's NUL
/// terminator there, and some branches depend on it.
fn at(bytes: &[u8], index: usize) -> u8 {
    bytes.get(index).copied().unwrap_or(0)
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_from(
    pattern: &[u8],
    text: &[u8],
    nocase: bool,
    skip_longer_matches: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    // `p` and `s` are the positions Redis's pointers would be at.
    let mut p = 0;
    let mut s = 0;
    while p < pattern.len() && s < text.len() {
        match pattern[p] {
            b'*' => {
                while p < pattern.len() && at(pattern, p + 1) == b'*' {
                    p += 1;
                }
                if pattern.len() - p == 1 {
                    return true;
                }
                while s < text.len() {
                    if match_from(
                        &pattern[p + 1..],
                        &text[s..],
                        nocase,
                        skip_longer_matches,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    s += 1;
                }
                // The rest of the pattern matches nowhere in the rest of the
                // text, so no earlier `*` can help by matching more.
                *skip_longer_matches = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let negate = at(pattern, p) == b'^';
                if negate {
                    p += 1;
                }
                let c = text[s];
                let mut matched = false;
                loop {
                    let remaining = pattern.len().saturating_sub(p);
                    if at(pattern, p) == b'\\' && remaining >= 2 {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' {
                        break;
                    } else if remaining == 0 {
                        // Unclosed class: step back so the advance below
                        // lands exactly on the end of the pattern.
                        p -= 1;
                        break;
                    } else if remaining >= 3 && pattern[p + 1] == b'-' {
                        let (mut start, mut end) = (pattern[p], pattern[p + 2]);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let mut c = c;
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p += 2;
                        if (start..=end).contains(&c) {
                            matched = true;
                        }
                    } else if same(pattern[p], c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            byte => {
                let literal = if byte == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    pattern[p]
                } else {
                    byte
                };
                if !same(literal, text[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == text.len() {
            while at(pattern, p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == text.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn matches(pattern: &str, text: &str) -> bool {
        glob_match(pattern.as_bytes(), text.as_bytes(), false)
    }

    /// Literal text, `?` and `*` behave as in Redis's KEYS examples.
    #[test]
    fn wildcards() {
        assert!(matches("h?llo", "hello"));
        assert!(matches("h?llo", "hallo"));
        assert!(!matches("h?llo", "hllo"));
        assert!(matches("h*llo", "hllo"));
        assert!(matches("h*llo", "heeeello"));
        // Redis's quirk: no pattern matches the empty text but the empty
        // pattern (KEYS and SCAN short-circuit a lone "*" before matching).
        assert!(!matches("*", ""));
        assert!(!matches("**", ""));
        assert!(matches("*", "anything"));
        assert!(matches("**", "x"));
        assert!(matches("a*", "a"));
        assert!(matches("a**", "a"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b*", "xxbxxaxx"));
        assert!(!matches("", "a"));
        assert!(matches("", ""));
        assert!(!matches("a", ""));
        assert!(!matches("?", ""));
        assert!(matches("user:*:name", "user:1000:name"));
        assert!(!matches("user:*:name", "user:1000:email"));
    }

    /// Classes: sets, negation, ranges in either order, escapes inside.
    #[test]
    fn classes() {
        assert!(matches("h[ae]llo", "hello"));
        assert!(matches("h[ae]llo", "hallo"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("h[a-b]llo", "hbllo"));
        assert!(!matches("h[a-b]llo", "hcllo"));
        assert!(matches("h[b-a]llo", "hallo"), "reversed range");
        assert!(matches("[\\]]", "]"));
        assert!(matches("[\\-]", "-"));
        assert!(matches("[a-]", "]"), "'a-]' is the range ]..a, as in Redis");
        assert!(!matches("[]", "a"));
        assert!(
            matches("[^]", "a"),
            "an empty negated class matches any byte"
        );
    }

    /// An unclosed class ends at the end of the pattern.
    #[test]
    fn unclosed_class() {
        assert!(matches("[abc", "a"));
        assert!(matches("[abc", "c"));
        assert!(!matches("[abc", "d"));
        assert!(!matches("[abc", "ab"));
        assert!(!matches("x[", "x"));
        assert!(!matches("[", "a"));
        assert!(matches("[^", "a"));
    }

    /// A backslash makes the next byte literal; a trailing one is literal.
    #[test]
    fn escapes() {
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "a"));
        assert!(matches("\\?x", "?x"));
        assert!(matches("a\\", "a\\"));
        assert!(matches("\\[a]", "[a]"));
    }

    /// With nocase, letters match either case, in classes and ranges too.
    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
        assert!(glob_match(b"h[A-Z]llo", b"hello", true));
        assert!(glob_match(b"h[E]llo", b"hello", true));
        assert!(!glob_match(b"h[^E]llo", b"hello", true));
    }

    /// Patterns built to make naive backtracking exponential still answer
    /// at once, and more than 1000 nested stars never match.
    #[test]
    fn abusive_patterns() {
        let text = "a".repeat(60);
        let pattern = format!("{}b", "a*".repeat(30));
        assert!(!matches(&pattern, &text));
        let deep = "*x".repeat(1001);
        assert!(!matches(&deep, &"x".repeat(1001)));
        let shallow = "*x".repeat(10);
        assert!(matches(&shallow, &"x".repeat(10)));
    }

    /// Binary keys match byte for byte.
    #[test]
    fn binary() {
        assert!(glob_match(b"\x00*\xff", b"\x00abc\xff", false));
        assert!(glob_match(b"[\x01-\x03]", b"\x02", false));
    }
}
