//! Unicode emoji and ASCII emoticons as the grammar recognises them: fixed UTF-16 unit ranges (not
//! the Unicode emoji data) and a first-character table of emoticon literals in grammar order.

fn unit(s: &[u16], i: usize) -> u32 {
    s.get(i).map_or(u32::MAX, |&u| u32::from(u))
}

fn in_range(u: u32, lo: u32, hi: u32) -> bool {
    (lo..=hi).contains(&u)
}

/// An optional variation selector (U+FE00–U+FE0F) after `i`.
fn vs(s: &[u16], i: usize) -> usize {
    if in_range(unit(s, i), 0xFE00, 0xFE0F) {
        i + 1
    } else {
        i
    }
}

/// A single BMP symbol in `lo..=hi`, with an optional variation selector.
fn bmp(s: &[u16], i: usize, lo: u32, hi: u32) -> Option<usize> {
    in_range(unit(s, i), lo, hi).then(|| vs(s, i + 1))
}

/// A surrogate pair `high` + `lo..=hi`, optionally followed by a variation selector.
fn pair(s: &[u16], i: usize, high: u32, lo: u32, hi: u32, selector: bool) -> Option<usize> {
    if unit(s, i) == high && in_range(unit(s, i + 1), lo, hi) {
        Some(if selector { vs(s, i + 2) } else { i + 2 })
    } else {
        None
    }
}

fn emoticons_block(s: &[u16], i: usize) -> Option<usize> {
    pair(s, i, 0xD83D, 0xDE00, 0xDE4F, true)
}

fn transport(s: &[u16], i: usize) -> Option<usize> {
    pair(s, i, 0xD83D, 0xDE80, 0xDEFF, true)
}

fn misc_symbols(s: &[u16], i: usize) -> Option<usize> {
    bmp(s, i, 0x2600, 0x26FF)
}

fn dingbats(s: &[u16], i: usize) -> Option<usize> {
    bmp(s, i, 0x2700, 0x27BF)
}

/// Squares: U+2B1B–U+2B1C, or the coloured circles and squares of U+1F7E0–U+1F7F0.
fn geometric(s: &[u16], i: usize) -> Option<usize> {
    bmp(s, i, 0x2B1B, 0x2B1C).or_else(|| {
        let lo = unit(s, i + 1);
        (unit(s, i) == 0xD83D && (in_range(lo, 0xDFE0, 0xDFEB) || lo == 0xDFF0))
            .then(|| vs(s, i + 2))
    })
}

/// One element of a ZWJ sequence, with an optional skin-tone modifier.
fn zwj_element(s: &[u16], i: usize) -> Option<usize> {
    let end = pair(s, i, 0xD83E, 0xDD00, 0xDFFF, false)
        .or_else(|| pair(s, i, 0xD83C, 0xDF00, 0xDFFF, true))
        .or_else(|| pair(s, i, 0xD83D, 0xDC00, 0xDDFF, true))
        .or_else(|| emoticons_block(s, i))
        .or_else(|| transport(s, i))
        .or_else(|| dingbats(s, i))
        .or_else(|| misc_symbols(s, i))
        .or_else(|| bmp(s, i, 0x2194, 0x2195))
        .or_else(|| geometric(s, i))?;
    Some(pair(s, end, 0xD83C, 0xDFFB, 0xDFFF, false).unwrap_or(end))
}

/// Tag sequences such as the flag of Scotland: U+1F3F4, tag letters, cancel tag.
fn tag_flag(s: &[u16], i: usize) -> Option<usize> {
    if unit(s, i) != 0xD83C || unit(s, i + 1) != 0xDFF4 {
        return None;
    }
    let mut j = i + 2;
    let mut tags = 0;
    while unit(s, j) == 0xDB40 && in_range(unit(s, j + 1), 0xDC20, 0xDC7E) {
        j += 2;
        tags += 1;
    }
    (tags > 0 && unit(s, j) == 0xDB40 && unit(s, j + 1) == 0xDC7F).then_some(j + 2)
}

fn keycap(s: &[u16], i: usize) -> Option<usize> {
    let c = unit(s, i);
    if !(in_range(c, 0x30, 0x39) || c == 0x23 || c == 0x2A) {
        return None;
    }
    let j = if unit(s, i + 1) == 0xFE0F {
        i + 2
    } else {
        i + 1
    };
    (unit(s, j) == 0x20E3).then_some(j + 1)
}

/// `(element ZWJ)* element`: PEG repetition never gives back a trailing `element ZWJ`.
fn zwj_sequence(s: &[u16], i: usize) -> Option<usize> {
    let mut j = i;
    while let Some(end) = zwj_element(s, j) {
        if unit(s, end) != 0x200D {
            return Some(end);
        }
        j = end + 1;
    }
    None
}

const SYMBOLS_WITH_VS16: &[u32] = &[
    0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x2196, 0x2197, 0x2198, 0x2199, 0x21A9, 0x21AA,
    0x24C2, 0x25AA, 0x25AB, 0x25B6, 0x25C0, 0x25FB, 0x25FC, 0x25FD, 0x25FE, 0x2934, 0x2935, 0x2B05,
    0x2B06, 0x2B07, 0x2B50, 0x2B55, 0x3030, 0x303D, 0x3297, 0x3299,
];

/// The end of the Unicode emoji at `i`, alternatives in grammar order.
pub(super) fn unicode_emoji(s: &[u16], i: usize) -> Option<usize> {
    tag_flag(s, i)
        .or_else(|| keycap(s, i))
        .or_else(|| zwj_sequence(s, i))
        .or_else(|| emoticons_block(s, i))
        .or_else(|| transport(s, i))
        .or_else(|| bmp(s, i, 0x2300, 0x23FF))
        .or_else(|| misc_symbols(s, i))
        .or_else(|| dingbats(s, i))
        .or_else(|| geometric(s, i))
        .or_else(|| {
            let lo = unit(s, i + 1);
            let listed = lo == 0xDCCF
                || lo == 0xDD8E
                || in_range(lo, 0xDD91, 0xDD9A)
                || lo == 0xDE01
                || in_range(lo, 0xDE32, 0xDE3A)
                || in_range(lo, 0xDE50, 0xDE51);
            (unit(s, i) == 0xD83C && listed).then(|| vs(s, i + 2))
        })
        .or_else(|| {
            (SYMBOLS_WITH_VS16.contains(&unit(s, i)) && unit(s, i + 1) == 0xFE0F).then_some(i + 2)
        })
        .or_else(|| {
            let lo = unit(s, i + 1);
            let listed = lo == 0xDC04
                || in_range(lo, 0xDD70, 0xDD71)
                || in_range(lo, 0xDD7E, 0xDD7F)
                || lo == 0xDE02
                || lo == 0xDE1A
                || lo == 0xDE2F;
            (unit(s, i) == 0xD83C && listed && unit(s, i + 2) == 0xFE0F).then_some(i + 3)
        })
        .or_else(|| {
            let regional =
                |k: usize| unit(s, k) == 0xD83C && in_range(unit(s, k + 1), 0xDDE6, 0xDDFF);
            (regional(i) && regional(i + 2)).then_some(i + 4)
        })
}

/// Emoticon literals and their shortcodes by first character, in grammar order: within a group
/// the first listed literal that matches wins.
const COLON: &[(&str, &str)] = &[
    (":-D", "smiley"),
    (":D", "smiley"),
    (":')", "joy"),
    (":'-)", "joy"),
    (":-)", "slight_smile"),
    (":)", "slight_smile"),
    (":]", "slight_smile"),
    (":-*", "kissing_heart"),
    (":*", "kissing_heart"),
    (":^*", "kissing_heart"),
    (":-P", "stuck_out_tongue"),
    (":P", "stuck_out_tongue"),
    (":-\u{de}", "stuck_out_tongue"),
    (":\u{de}", "stuck_out_tongue"),
    (":-b", "stuck_out_tongue"),
    (":b", "stuck_out_tongue"),
    (":-(", "disappointed"),
    (":(", "disappointed"),
    (":-[", "disappointed"),
    (":[", "disappointed"),
    (":-/", "confused"),
    (":-.", "confused"),
    (":/", "confused"),
    (":\\", "confused"),
    (":L", "confused"),
    (":'(", "cry"),
    (":@", "angry"),
    (":$", "flushed"),
    (":-X", "no_mouth"),
    (":X", "no_mouth"),
    (":-#", "no_mouth"),
    (":#", "no_mouth"),
    (":-O", "open_mouth"),
    (":O", "open_mouth"),
];
const SEMICOLON: &[(&str, &str)] = &[
    (";)", "wink"),
    (";-)", "wink"),
    (";-]", "wink"),
    (";]", "wink"),
    (";D", "wink"),
    (";^)", "wink"),
    (";(", "cry"),
    (";-(", "cry"),
];
const LESS: &[(&str, &str)] = &[("</3", "broken_heart"), ("<3", "heart")];
const GREATER: &[(&str, &str)] = &[
    (">:)", "laughing"),
    (">;)", "laughing"),
    (">:-)", "laughing"),
    (">=)", "laughing"),
    (">.<", "persevere"),
    (">:P", "stuck_out_tongue_winking_eye"),
    (">:\\", "confused"),
    (">;/", "confused"),
    (">:(", "angry"),
    (">:-(", "angry"),
    (">:[", "disappointed"),
    (">:O", "open_mouth"),
];
const EQUALS: &[(&str, &str)] = &[
    ("=D", "smiley"),
    ("=]", "slight_smile"),
    ("=)", "slight_smile"),
    ("=*", "kissing_heart"),
    ("=P", "stuck_out_tongue"),
    ("=(", "disappointed"),
    ("=/", "confused"),
    ("=\\", "confused"),
    ("=L", "confused"),
    ("=$", "flushed"),
    ("=X", "no_mouth"),
    ("=#", "no_mouth"),
];
const UPPER_D: &[(&str, &str)] = &[("D:", "fearful")];
const UPPER_B: &[(&str, &str)] = &[
    ("B-)", "sunglasses"),
    ("B)", "sunglasses"),
    ("B-D", "sunglasses"),
];
const EIGHT: &[(&str, &str)] = &[
    ("8)", "sunglasses"),
    ("8-)", "sunglasses"),
    ("8-D", "sunglasses"),
];
const QUOTE: &[(&str, &str)] = &[
    ("':)", "sweat_smile"),
    ("':-)", "sweat_smile"),
    ("'=)", "sweat_smile"),
    ("':D", "sweat_smile"),
    ("':-D", "sweat_smile"),
    ("'=D", "sweat_smile"),
    ("':(", "sweat"),
    ("':-(", "sweat"),
    ("'=(", "sweat"),
];
const UPPER_O: &[(&str, &str)] = &[
    ("O:-)", "innocent"),
    ("O:)", "innocent"),
    ("O;-)", "innocent"),
    ("O=)", "innocent"),
    ("O:-3", "innocent"),
    ("O:3", "innocent"),
    ("O_O", "open_mouth"),
];
const ZERO: &[(&str, &str)] = &[
    ("0:-3", "innocent"),
    ("0:3", "innocent"),
    ("0:-)", "innocent"),
    ("0:)", "innocent"),
    ("0;^)", "innocent"),
    ("0;-)", "innocent"),
];
const STAR: &[(&str, &str)] = &[
    ("*-)", "wink"),
    ("*)", "wink"),
    ("*\\0/*", "person_gesturing_ok"),
    ("*\\O/*", "person_gesturing_ok"),
];
const UPPER_X: &[(&str, &str)] = &[
    ("X-P", "stuck_out_tongue_winking_eye"),
    ("X)", "dizzy_face"),
    ("X-)", "dizzy_face"),
];
const HASH: &[(&str, &str)] = &[("#-)", "dizzy_face"), ("#)", "dizzy_face")];
const PERCENT: &[(&str, &str)] = &[("%-)", "dizzy_face"), ("%)", "dizzy_face")];
const PAREN: &[(&str, &str)] = &[("(y)", "thumbsup")];
const DASH: &[(&str, &str)] = &[
    ("-___-", "expressionless"),
    ("-__-", "expressionless"),
    ("-_-", "expressionless"),
];
const BACKSLASH: &[(&str, &str)] = &[
    ("\\0\\/", "person_gesturing_ok"),
    ("\\O\\/", "person_gesturing_ok"),
];

fn group(first: u16) -> &'static [(&'static str, &'static str)] {
    match u8::try_from(first).unwrap_or(0) {
        b':' => COLON,
        b';' => SEMICOLON,
        b'<' => LESS,
        b'>' => GREATER,
        b'=' => EQUALS,
        b'D' => UPPER_D,
        b'B' => UPPER_B,
        b'8' => EIGHT,
        b'\'' => QUOTE,
        b'O' => UPPER_O,
        b'0' => ZERO,
        b'*' => STAR,
        b'X' => UPPER_X,
        b'#' => HASH,
        b'%' => PERCENT,
        b'(' => PAREN,
        b'-' => DASH,
        b'\\' => BACKSLASH,
        _ => &[],
    }
}

/// The emoticon at `i`: (end, literal, shortcode).
pub(super) fn emoticon(s: &[u16], i: usize) -> Option<(usize, &'static str, &'static str)> {
    group(*s.get(i)?).iter().find_map(|&(lit, code)| {
        let mut j = i;
        for c in lit.chars() {
            if s.get(j).map(|&u| u32::from(u)) != Some(c as u32) {
                return None;
            }
            j += 1;
        }
        Some((j, lit, code))
    })
}
