//! Whether an autolink candidate really is a link: the official parser asks `tldts` for the host
//! and accepts public-suffix hosts (ICANN or private), IP addresses and the custom domains. This
//! is the same host extraction and suffix walk, over the suffix data the bundle ships.

use super::psl::{Node as Trie, EXCEPTIONS, RULES};

fn valid_ascii(c: u16) -> bool {
    matches!(c, 0x61..=0x7A | 0x30..=0x39) || c > 127
}

/// tldts `isValidHostname` over UTF-16 units.
fn is_valid_hostname(h: &[u16]) -> bool {
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    if !(valid_ascii(h[0]) || h[0] == u16::from(b'.') || h[0] == u16::from(b'_')) {
        return false;
    }
    let mut last_dot: isize = -1;
    let mut last = 0u16;
    for (i, &c) in h.iter().enumerate() {
        if c == u16::from(b'.') {
            if i as isize - last_dot > 64 || matches!(last, 0x2E | 0x2D | 0x5F) {
                return false;
            }
            last_dot = i as isize;
        } else if !(valid_ascii(c) || c == u16::from(b'-') || c == u16::from(b'_')) {
            return false;
        }
        last = c;
    }
    (h.len() as isize - last_dot - 1) <= 63 && last != u16::from(b'-')
}

/// tldts `extractHostname`; `None` where it gives `null`.
fn extract_hostname(url: &[u16]) -> Option<Vec<u16>> {
    let ch = |i: usize| url.get(i).copied().unwrap_or(0);
    let (mut start, mut end) = (0usize, url.len());
    let mut upper = false;
    if !is_valid_hostname(url) {
        if url.starts_with(&"data:".encode_utf16().collect::<Vec<_>>()) {
            return None;
        }
        while start < url.len() && url[start] <= 32 {
            start += 1;
        }
        while end > start + 1 && url[end - 1] <= 32 {
            end -= 1;
        }
        if ch(start) == u16::from(b'/') && ch(start + 1) == u16::from(b'/') {
            start += 2;
        } else if let Some(colon) = (start..url.len().saturating_sub(1))
            .find(|&i| url[i] == u16::from(b':') && url[i + 1] == u16::from(b'/'))
        {
            let scheme = &url[start..colon];
            let known = ["https", "http", "wss", "ws"]
                .iter()
                .any(|k| k.encode_utf16().eq(scheme.iter().copied()));
            if !known
                && !scheme.iter().all(|&c| {
                    let l = c | 32;
                    matches!(l, 0x61..=0x7A | 0x30..=0x39 | 0x2E | 0x2D | 0x2B)
                })
            {
                return None;
            }
            start = colon + 2;
            while ch(start) == u16::from(b'/') {
                start += 1;
            }
        }
        let (mut at, mut bracket, mut colon) = (None, None, None);
        for (i, &c) in url.iter().enumerate().take(end).skip(start) {
            match c {
                0x23 | 0x2F | 0x3F => {
                    end = i;
                    break;
                }
                0x40 => at = Some(i),
                0x5D => bracket = Some(i),
                0x3A => colon = Some(i),
                0x41..=0x5A => upper = true,
                _ => {}
            }
        }
        if let Some(a) = at.filter(|&a| a > start && a < end) {
            start = a + 1;
        }
        if ch(start) == u16::from(b'[') {
            // `slice` of a reversed range is empty in JavaScript.
            return bracket.map(|b| lower(url.get(start + 1..b).unwrap_or_default()));
        }
        if let Some(c) = colon.filter(|&c| c > start && c < end) {
            end = c;
        }
    }
    while end > start + 1 && url[end - 1] == u16::from(b'.') {
        end -= 1;
    }
    let host = &url[start.min(end)..end];
    Some(if upper { lower(host) } else { host.to_vec() })
}

fn lower(s: &[u16]) -> Vec<u16> {
    String::from_utf16_lossy(s)
        .to_lowercase()
        .encode_utf16()
        .collect()
}

fn is_ipv6(h: &[u16]) -> bool {
    if h.len() < 3 {
        return false;
    }
    let start = usize::from(h[0] == u16::from(b'['));
    let end = if h[h.len() - 1] == u16::from(b']') {
        h.len() - 1
    } else {
        h.len()
    };
    if end.saturating_sub(start) > 39 {
        return false;
    }
    let mut colon = false;
    for &c in &h[start.min(end)..end] {
        match c {
            0x3A => colon = true,
            0x30..=0x39 | 0x61..=0x66 | 0x41..=0x5A => {}
            _ => return false,
        }
    }
    colon
}

fn is_ipv4(h: &[u16]) -> bool {
    if !(7..=15).contains(&h.len()) {
        return false;
    }
    let mut dots = 0;
    for &c in h {
        match c {
            0x2E => dots += 1,
            0x30..=0x39 => {}
            _ => return false,
        }
    }
    dots == 3 && h[0] != 0x2E && h[h.len() - 1] != 0x2E
}

/// Whether some rule of the trie matches a suffix of the labels (deepest-match walk of tldts).
fn matches_trie(trie: &[Trie], labels: &[String]) -> bool {
    let mut node = Some(0usize);
    let mut found = false;
    let mut idx = labels.len();
    while let Some(n) = node {
        let (_, flag, first, count) = trie[n];
        found |= flag & 3 != 0;
        if idx == 0 {
            break;
        }
        idx -= 1;
        let children = &trie[first as usize..(first + count) as usize];
        let find = |label: &str| children.binary_search_by(|c| c.0.cmp(label)).ok();
        node = find(&labels[idx])
            .or_else(|| find("*"))
            .map(|i| first as usize + i);
    }
    found
}

/// ICANN or private public suffix, as tldts decides with `allowPrivateDomains`.
fn has_public_suffix(host: &[u16]) -> bool {
    let labels: Vec<String> = String::from_utf16_lossy(host)
        .split('.')
        .map(str::to_string)
        .collect();
    matches_trie(EXCEPTIONS, &labels) || matches_trie(RULES, &labels)
}

fn ends_with_host(host: &[u16], suffix: &str) -> bool {
    let suffix: Vec<u16> = suffix.encode_utf16().collect();
    host.ends_with(&suffix)
        && (host.len() == suffix.len() || host[host.len() - suffix.len() - 1] == u16::from(b'.'))
}

/// `autoLink`'s test: a public suffix, an IP address, `localhost` or a custom domain.
pub(super) fn is_linkable(url: &[u16], custom_domains: &[String]) -> bool {
    let Some(host) = extract_hostname(url) else {
        return false;
    };
    if is_ipv6(&host) || is_ipv4(&host) {
        return true;
    }
    if !is_valid_hostname(&host) {
        return false;
    }
    has_public_suffix(&host)
        || ends_with_host(&host, "localhost")
        || custom_domains.iter().any(|d| ends_with_host(&host, d))
}

/// `autoEmail`'s test on `mailto:<address>` (no IP detection, no custom domains).
pub(super) fn is_mailable(address: &[u16]) -> bool {
    let mut url: Vec<u16> = "mailto:".encode_utf16().collect();
    url.extend_from_slice(address);
    extract_hostname(&url).is_some_and(|h| is_valid_hostname(&h) && has_public_suffix(&h))
}

/// The LINK `src` of an autolink: kept when the URL parses on its own (it has a scheme) or is
/// protocol-relative, otherwise made protocol-relative.
pub(super) fn link_src(url: &str) -> String {
    let trimmed = url.trim_start_matches(|c: char| c <= ' ');
    let scheme_len = trimmed
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    let has_scheme = trimmed
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && trimmed.as_bytes().get(scheme_len) == Some(&b':');
    if has_scheme || url.starts_with("//") {
        url.to_string()
    } else {
        format!("//{url}")
    }
}
