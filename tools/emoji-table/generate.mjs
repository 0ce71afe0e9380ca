// Generates the emoji shortname table and conversion fixture of crates/emoji from npm
// `emoji-toolkit` (JoyPixels), the shortname list Rocket.Chat uses.
//
//   cd tools/emoji-table && npm ci && node generate.mjs
//
// Writes (paths relative to the repository root):
//   crates/emoji/src/table.rs                                the shortname table
//   crates/emoji/tests/fixtures/shortname_to_unicode.json    input -> expected output pairs
//
// The table maps every name the library's matcher knows (primary shortnames
// and their alternates) to what `shortnameToUnicode` returns for it. The
// fixture outputs are whatever the real `shortnameToUnicode` returns, with the
// library's defaults (`ascii = false`: ASCII emoticons stay unchanged).
// `crates/emoji/src/lib.rs` mirrors the library's regular expression; the checks
// below fail loudly if a new version changes what that mirror relies on.

import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const joypixels = require('emoji-toolkit');
const LIB = 'emoji-toolkit';
const libVersion = require('emoji-toolkit/package.json').version;
const pinned = require('./package.json').dependencies[LIB];
if (libVersion !== pinned) {
	throw new Error(`expected ${LIB} ${pinned}, found ${libVersion}`);
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const tablePath = resolve(repoRoot, 'crates/emoji/src/table.rs');
const fixturePath = resolve(repoRoot, 'crates/emoji/tests/fixtures/shortname_to_unicode.json');
const COMMAND = 'cd tools/emoji-table && npm ci && node generate.mjs';

// ---------------------------------------------------------------------------
// 1. What crates/emoji/src/lib.rs relies on.

if (joypixels.ascii !== false) throw new Error('ascii conversion is not off by default');
const HTML_SKIP = '<object[^>]*>.*?<\\/object>|<span[^>]*>.*?<\\/span>|<(?:object|embed|svg|img|div|span|p|a)[^>]*>';
if (joypixels.regShortNames.source !== `${HTML_SKIP}|(${joypixels.shortnames})` || joypixels.regShortNames.flags !== 'gi') {
	throw new Error('the shortname regular expression changed shape');
}

const convert = (text) => joypixels.shortnameToUnicode(text);

// Names are `:x:` with no ':' inside, so at most one alternative of the
// matcher can match at a position and their order does not matter.
const NAME = /^:[a-z0-9_+\u00f1-]+:$/;
const primary = Object.keys(joypixels.emojiList);
const alternates = primary.flatMap((name) => joypixels.emojiList[name].shortnames);
const allNames = [...primary, ...alternates];
for (const name of allNames) {
	if (!NAME.test(name)) throw new Error(`unexpected shortname ${name}`);
}
// The matcher is exactly these names ('+' escaped, nothing else).
const matcherNames = joypixels.shortnames.split('|').map((s) => s.replace(/\\\+/g, '+'));
const nameSet = new Set(allNames);
if (nameSet.size !== allNames.length) throw new Error('duplicate shortname');
if (matcherNames.length !== allNames.length || matcherNames.some((n) => !nameSet.has(n))) {
	throw new Error('matcher names and emoji list disagree');
}

// The `i` flag without `u`: a character matches a name character when both
// upper-case to the same code unit, never mapping non-ASCII to ASCII. lib.rs
// folds ASCII letters and `Ñ` -> `ñ`; check that this is exactly right.
const nameChars = new Set(allNames.join(''));
for (const c of nameChars) {
	const re = new RegExp(`^${c.replace(/[+\-]/g, '\\$&')}$`, 'i');
	const matches = [];
	for (let u = 0; u <= 0xffff; u++) {
		const x = String.fromCharCode(u);
		if (re.test(x)) matches.push(x);
	}
	let expected;
	if (/[a-z]/.test(c)) expected = [c.toUpperCase(), c];
	else if (c === '\u00f1') expected = ['\u00d1', '\u00f1'];
	else if (/[0-9_+:-]/.test(c)) expected = [c];
	else throw new Error(`name character ${c} unknown to crates/emoji/src/lib.rs`);
	if (matches.join('') !== expected.join('')) throw new Error(`case class of ${c}: ${matches.join('')}`);
}

// ---------------------------------------------------------------------------
// 2. Table.

const isLoneSurrogateFree = (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const byteCmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const table = allNames
	.map((name) => {
		const out = convert(name);
		if (out === name || out.includes(':') || !isLoneSurrogateFree(out)) throw new Error(`bad conversion for ${name}`);
		return [name, out];
	})
	.sort((a, b) => byteCmp(a[0], b[0]));

const rustStr = (s) => {
	let out = '"';
	for (const ch of s) {
		const cp = ch.codePointAt(0);
		if (ch === '"' || ch === '\\') out += `\\${ch}`;
		else if (cp >= 0x20 && cp < 0x7f) out += ch;
		else out += `\\u{${cp.toString(16)}}`;
	}
	return `${out}"`;
};

const maxLen = Math.max(...allNames.map((s) => Buffer.byteLength(s)));
const tableRs = `// @generated by tools/emoji-table/generate.mjs from npm ${LIB}@${libVersion}
// (JoyPixels ${joypixels.emojiVersion}): ${primary.length} shortnames and ${alternates.length} alternates.
// Do not edit by hand; regenerate with:
//   ${COMMAND}

/// Every shortname the library matches, primary names and alternates (with
/// colons, lower case), and the text \`shortnameToUnicode\` puts in its place.
/// Sorted by bytes for binary search.
#[rustfmt::skip]
pub(crate) static SHORTNAMES: &[(&str, &str)] = &[
${table.map(([k, v]) => `    (${rustStr(k)}, ${rustStr(v)}),`).join('\n')}
];

/// Longest name in \`SHORTNAMES\`, in bytes.
pub(crate) const MAX_SHORTNAME_LEN: usize = ${maxLen};
`;
mkdirSync(dirname(tablePath), { recursive: true });
writeFileSync(tablePath, tableRs);

// ---------------------------------------------------------------------------
// 3. Fixture corpus.

let seed = 0x5eed1234;
const rand = () => {
	// mulberry32
	seed = (seed + 0x6d2b79f5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const mixCase = (s) => [...s].map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join('');

const inputs = [];
const seen = new Set();
const add = (s) => {
	if (!seen.has(s)) {
		seen.add(s);
		inputs.push(s);
	}
};

// Plain text, empty, colons, times, URLs, unicode.
[
	'',
	' ',
	'hello world',
	'no emoji here',
	'Ünïcödé tëxt ✓ 😀 日本語',
	'😀😃😄',
	'\n',
	'line one\nline two',
	':',
	'::',
	':::',
	'::::',
	':smile',
	'smile:',
	': smile :',
	':smile :',
	'::smile::',
	':::smile:::',
	':smile::smile:',
	':smile:smile:',
	':smile:smile:smile:',
	':smile::+1::smile:',
	':+1:smile:',
	':thumbsup:smile:',
	':thumbup:smile:',
	':SMILE:smile:',
	':Smile:',
	':not_an_emoji:',
	':not_an_emoji:smile:',
	':my_custom_emoji:',
	':rocketchat:',
	':smile_cat::smiley_cat:',
	'a:smile:b',
	'x:smile:',
	':smile:x',
	'10:30',
	'10:30:45',
	'at 10:30 or 11:45:smile:',
	'12:00:00:smile:',
	'meet at 10:30:45 :wave:',
	'http://example.com:8080/path',
	'https://example.com/a:smile:b',
	'https://example.com/:smile:/x',
	'user:pass@host:22',
	'C:\\Users\\smile:',
	'::1',
	'ipv6 fe80::1:2',
	'ratio 1:1 and 16:9',
	':+1:',
	':-1:',
	':+1_tone3:',
	':-1_tone5:',
	':thumbsup:',
	':thumbsdown:',
	':thumbup:',
	':thumbdown:',
	':100:',
	':1234:',
	':8ball:',
	':a:',
	':b:',
	':ab:',
	':o:',
	':o2:',
	':x:',
	':m:',
	':tm:',
	':TM:',
	':copyright:',
	':registered:',
	':digit_zero:',
	':pound_symbol:',
	':asterisk_symbol:',
	':zero:',
	':hash:',
	':asterisk:',
	':flag_us:',
	':us:',
	':smile_tone1:',
	':thumbsup_tone3:',
	':family_mwgb:',
	':kiss_mm:',
	':couplekiss_mm:',
	':england:',
	':piñata:',
	':PIÑATA:',
	':Piñata:',
	':piÑata:',
	':pinata:',
	':piñata::piñata:',
	':ſmile:',
	':\u212aiss:',
	':kiss:',
	':KISS:',
	':ıce_cream:',
	':ice_cream:',
	':ＳＭＩＬＥ:',
	':rocket: to the moon :rocket:',
	':smile: :smile: :smile:',
	'🎉 :tada: 🎉',
	':smile:\n:smile:',
	':smi\nle:',
	':smile:\u2028:wink:',
	'café :coffee: ☕',
	'🙂:smile:🙂',
	'é:smile:é',
	':smiley_cat:',
	':_:',
	':-:',
	':+:',
	'a :: b',
	'@user :wave:',
	'`:smile:`',
	'```:smile:```',
	'*:smile:*',
	'_:smile:_',
	'~:smile:~',
	'[:smile:](http://x)',
	'"quoted :smile:"',
	"'single :smile:'",
	':smile:!',
	':smile:?',
	'(:smile:)',
].forEach(add);

// HTML-like input: the library skips some tags and their content.
[
	'<span>:smile:</span>',
	'<span>:smile:</span> :smile:',
	'<span class="x">:smile: :wink:</span>:wink:',
	'<SPAN>:smile:</SPAN>',
	'<Span>:smile:</sPaN>',
	'<span>\n:smile:</span>',
	'<span>:smile:\n</span>:smile:',
	'<span>:smile:',
	'<span :smile:',
	'<span :smile: > :smile:',
	'<span>:smile:</span><span>:wink:</span>',
	'<span>a</span>:smile:<span>b</span>',
	'<spanner>:smile:</span>',
	'<span\n>:smile:</span>',
	'<span>:smile:\u2028</span>',
	'<span>:smile:\r</span>',
	'<span>:smile:\u2029</span>',
	'<span>:thumbup:</span> :thumbup:',
	'<object>:smile:</object>',
	'<object data=x>:smile:</object> :smile:',
	'<OBJECT>:smile:</OBJECT>',
	'<object>:smile:',
	'<object>:smile:\n</object>',
	'<object :smile:>',
	'<embed :smile:>',
	'<embed>:smile:',
	'<svg>:smile:</svg>',
	'<svg :smile: >',
	'<img src=":smile:">',
	'<img>:smile:',
	'<div>:smile:</div>',
	'<div :smile:>',
	'<p>:smile:</p>',
	'<p :smile:>',
	'<pre>:smile:</pre>',
	'<pre :smile:>',
	'<a href=":smile:">:smile:</a>',
	'<abbr :smile:>',
	'<b>:smile:</b>',
	'<b :smile:>',
	'<i :smile:>',
	'<br :smile:>',
	'< span>:smile:</span>',
	'</span>:smile:',
	'</a :smile:>',
	'<a',
	'<a :smile:',
	'<:smile:>',
	'<3 :smile:',
	'a < b :smile: > c',
	'a <p b :smile: c',
	'<p\n:smile:\n>',
	'<<span>:smile:</span>',
	'<span><span>:smile:</span></span>:smile:',
	'<object><span>:smile:</span></object>',
	'<span>:smile:</object>',
	'<object>:smile:</span>',
	'<span>:smile:</span >',
	'<span/>:smile:',
	'text <span>:smile:</span> text :smile: text',
	':smi<p>le:',
	':smile<p>:wink:',
	'<span>:)</span> :)',
	'<p :) > :)',
	'&lt;span&gt;:smile:&lt;/span&gt;',
	'&lt;3',
	'&gt;:(',
].forEach(add);

// Every name alone, and case variants.
const names = table.map(([k]) => k);
for (const name of names) add(name);
for (let i = 0; i < names.length; i += 4) {
	const name = names[i];
	add(name.toUpperCase());
	add(mixCase(name));
	add(`${name.toUpperCase()}${name}`);
}

// Sentences with random shortnames.
const words = ['hello', 'world', 'ok', 'see', 'you', 'at', '10:30', '10:30:45', 'lol', 'nice', 'x', '42', 'the', 'café', '日本', '🙂', '—', ':)', '<3', 'http://a.b:80/c'];
for (let n = 0; n < 700; n++) {
	const parts = [];
	const len = 1 + Math.floor(rand() * 8);
	for (let j = 0; j < len; j++) {
		const r = rand();
		if (r < 0.35) parts.push(pick(names));
		else if (r < 0.4) parts.push(pick(names).toUpperCase());
		else if (r < 0.45) parts.push(pick(names).slice(0, -1));
		else parts.push(pick(words));
	}
	const sep = pick([' ', ' ', ' ', '', '\n', ', ', ':']);
	add(parts.join(sep));
}

// Adjacent shortnames.
for (let n = 0; n < 200; n++) {
	add(pick(names) + pick(names));
	add(pick(names) + pick(names).slice(1));
}

// ASCII emoticons: left unchanged (ascii conversion is off).
const emoticons = Object.keys(joypixels.asciiList);
const emoticonCtx = [(a) => a, (a) => `hi ${a} there`, (a) => `${a}!`, (a) => `:smile: ${a}`, (a) => `${a} :wink:`];
for (const e of emoticons) for (const ctx of emoticonCtx) add(ctx(e));
[':)', ':-)', ':D', ';)', '<3', '</3', 'i <3 you', ':) :)', ':):)', '(y)', ':p', 'XD', '\\o/', '8)'].forEach(add);

// Random fuzz over a token alphabet that exercises every rule.
const tokens = [
	':', ':', ':', 'smile', 'SMILE', 'wink', '+1', 'thumbsup', 'thumbup', 'tm', 'x', 'o', 'a', 'p', 'b', 'D', ')', '(', '-', '_',
	'/', '\\', 'piñata', 'PIÑATA', 'ñ', 'ſ', '\u212a', 'kiss', ' ', ' ', ' ', '\n', '\r', '\t', '\u00a0', '\u2028', '<', '>',
	'<span>', '</span>', '<SPAN', '</SPAN>', '<object>', '</object>', '<p', '<a', '<img', '<b', '!', '?', ',', '.', ';', '=', '3',
	'8', 'O', 'X', '😀', 'é', '日', '👍🏽', "'", ':smile:', ':)', ':D', '<3', '10:30',
];
for (let n = 0; n < 2500; n++) {
	const len = 1 + Math.floor(rand() * 14);
	let s = '';
	for (let j = 0; j < len; j++) s += pick(tokens);
	add(s);
}

const cases = inputs.map((input) => [input, convert(input)]);
for (const [input, out] of cases) {
	if (!isLoneSurrogateFree(input) || !isLoneSurrogateFree(out)) throw new Error('lone surrogate in fixture');
}

const fixture = `{
"generator": ${JSON.stringify(`tools/emoji-table/generate.mjs (${COMMAND})`)},
"library": ${JSON.stringify(`${LIB}@${libVersion} shortnameToUnicode, defaults (ascii = false)`)},
"cases": [
${cases.map((c) => JSON.stringify(c)).join(',\n')}
]
}
`;
mkdirSync(dirname(fixturePath), { recursive: true });
writeFileSync(fixturePath, fixture);

console.log(
	`${LIB}@${libVersion}: ${primary.length} shortnames + ${alternates.length} alternates = ${table.length} table entries; ${cases.length} fixture cases`,
);
