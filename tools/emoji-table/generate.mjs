// Generates rcpush's emoji tables and conversion fixture from the emoji
// library that Rocket.Chat 7.x runs on its server.
//
//   cd tools/emoji-table && npm ci && node generate.mjs
//
// Writes (paths relative to the repository root):
//   src/rules/emoji_table.rs                        the static tables
//   tests/fixtures/emoji_shortname_to_unicode.json  input -> expected output pairs
//
// Rocket.Chat 7.x registers `emojione.shortnameToUnicode` (npm `emojione`
// 4.5.0) as its only `beforeSendMessageNotifications` callback. Before that,
// its server start-up (app/emoji-emojione) changes the library object in two
// ways, and both change what the callback returns, so they are reproduced here:
//   1. 15 extra shortnames (:tm:, :copyright:, :digit_zero: ...) are appended to
//      the shortname list and the shortname regular expression is rebuilt. The
//      :copyright: entry carries the output code points 00a9-f0ef (sic), so it
//      converts to U+00A9 U+F0EF.
//   2. `ascii` is set to true: the server reads the `convertAsciiEmoji` user
//      preference through Meteor.userId(), which throws outside a method call,
//      and the fallback branch turns ASCII emoticon conversion on.
// The fixture outputs are whatever the real library function returns.

import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const emojione = require('emojione');
const libVersion = require('emojione/package.json').version;
if (libVersion !== '4.5.0') {
	throw new Error(`expected emojione 4.5.0, found ${libVersion}`);
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const tablePath = resolve(repoRoot, 'src/rules/emoji_table.rs');
const fixturePath = resolve(repoRoot, 'tests/fixtures/emoji_shortname_to_unicode.json');
const COMMAND = 'cd tools/emoji-table && npm ci && node generate.mjs';

// ---------------------------------------------------------------------------
// 1. Reproduce the Rocket.Chat 7.x server set-up of the library object.

const HTML_SKIP = '<object[^>]*>.*?<\\/object>|<span[^>]*>.*?<\\/span>|<(?:object|embed|svg|img|div|span|p|a)[^>]*>';

// [shortname, uc_output] as Rocket.Chat adds them (uc_output drives the conversion).
const RC_EXTRA = [
	[':tm:', '2122-fe0f'],
	[':copyright:', '00a9-f0ef'],
	[':registered:', '00ae-fe0f'],
	[':digit_zero:', '0030-fe0f'],
	[':digit_one:', '0031-fe0f'],
	[':digit_two:', '0032-fe0f'],
	[':digit_three:', '0033-fe0f'],
	[':digit_four:', '0034-fe0f'],
	[':digit_five:', '0035-fe0f'],
	[':digit_six:', '0036-fe0f'],
	[':digit_seven:', '0037-fe0f'],
	[':digit_eight:', '0038-fe0f'],
	[':digit_nine:', '0039-fe0f'],
	[':pound_symbol:', '0023-fe0f'],
	[':asterisk_symbol:', '002a-fe0f'],
];

for (const [name, ucOutput] of RC_EXTRA) {
	if (name in emojione.emojioneList) {
		throw new Error(`${name} unexpectedly present in the library list`);
	}
	const base = ucOutput.split('-')[0];
	emojione.emojioneList[name] = {
		uc_base: base,
		uc_output: ucOutput,
		uc_match: `${base}-fe0f`,
		uc_greedy: `${base}-fe0f`,
		shortnames: [],
		category: 'symbols',
	};
}
emojione.shortnames += RC_EXTRA.map(([name]) => `|${name}`).join('');
emojione.regShortNames = new RegExp(`${HTML_SKIP}|(${emojione.shortnames})`, 'gi');
emojione.ascii = true;

const convert = (text) => emojione.shortnameToUnicode(text);

// ---------------------------------------------------------------------------
// 2. Tables.

const isLoneSurrogateFree = (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const primary = Object.keys(emojione.emojioneList).filter((k) => k !== '');
const shortnames = [];
for (const name of primary) {
	if (!/^:[a-z0-9_+-]+:$/.test(name)) throw new Error(`unexpected shortname ${name}`);
	const out = convert(name);
	if (out === name || !isLoneSurrogateFree(out)) throw new Error(`bad conversion for ${name}`);
	shortnames.push([name, out]);
}
const alternates = [];
for (const name of primary) {
	for (const alt of emojione.emojioneList[name].shortnames) {
		if (!/^:[a-z0-9_+-]+:$/.test(alt)) throw new Error(`unexpected alternate ${alt}`);
		if (alt in emojione.emojioneList) throw new Error(`alternate ${alt} is also a key`);
		// shortnameToUnicode only converts list keys: alternates are matched
		// (and so consumed) by the regular expression but returned unchanged.
		if (convert(alt) !== alt) throw new Error(`alternate ${alt} converted`);
		alternates.push(alt);
	}
}
// Every name in the matcher must be in one of the two tables.
const matcherNames = emojione.shortnames.split('|').map((s) => s.replace(/\\\+/g, '+'));
const known = new Set([...primary, ...alternates]);
if (matcherNames.some((n) => !known.has(n)) || new Set(matcherNames).size !== known.size) {
	throw new Error('matcher names and tables disagree');
}

const byteCmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
shortnames.sort((a, b) => byteCmp(a[0], b[0]));
const alternatesSorted = [...new Set(alternates)].sort(byteCmp);
if (alternatesSorted.length !== alternates.length) throw new Error('duplicate alternates');

// ASCII emoticons: the alternatives of the library's regular expression, in
// its order (order decides which one wins at a position).
const asciiSource = emojione.asciiRegexp;
if (!asciiSource.startsWith('(') || !asciiSource.endsWith(')')) throw new Error('ascii regexp shape');
const asciiAlternatives = [];
{
	const body = asciiSource.slice(1, -1);
	let literal = '';
	let source = '';
	const flush = () => {
		if (!new RegExp(`^(?:${source})$`).test(literal)) throw new Error(`ascii parse ${source}`);
		if (!asciiAlternatives.includes(literal)) asciiAlternatives.push(literal);
		literal = '';
		source = '';
	};
	for (let i = 0; i < body.length; i++) {
		const c = body[i];
		if (c === '\\') {
			literal += body[i + 1];
			source += c + body[i + 1];
			i++;
		} else if (c === '|') {
			flush();
		} else {
			if ('.^$*+?()[]{}'.includes(c)) throw new Error(`unescaped metacharacter in ${body}`);
			literal += c;
			source += c;
		}
	}
	flush();
}
const ascii = asciiAlternatives.map((lit) => {
	if (!(lit in emojione.asciiList)) throw new Error(`ascii ${lit} has no entry`);
	const out = convert(lit);
	if (out === lit) throw new Error(`ascii ${lit} not converted`);
	return [lit, out];
});

// ---------------------------------------------------------------------------
// 3. Rust table.

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

const maxLen = Math.max(...[...primary, ...alternates].map((s) => s.length));
const table = `// @generated by tools/emoji-table/generate.mjs from npm emojione@${libVersion},
// with the changes Rocket.Chat 7.x makes to it at server start-up.
// Do not edit by hand; regenerate with:
//   ${COMMAND}

/// Shortname (with colons) -> the text \`emojione.shortnameToUnicode\` puts in
/// its place. Sorted by bytes for binary search.
#[rustfmt::skip]
pub(crate) static SHORTNAMES: &[(&str, &str)] = &[
${shortnames.map(([k, v]) => `    (${rustStr(k)}, ${rustStr(v)}),`).join('\n')}
];

/// Alternate shortnames: matched (and so consumed) by the library's regular
/// expression but returned unchanged. Sorted by bytes.
#[rustfmt::skip]
pub(crate) static ALTERNATES: &[&str] = &[
${alternatesSorted.map((k) => `    ${rustStr(k)},`).join('\n')}
];

/// Longest name in \`SHORTNAMES\` or \`ALTERNATES\`, in bytes.
pub(crate) const MAX_SHORTNAME_LEN: usize = ${maxLen};

/// ASCII emoticons in the order of the library's alternation, with the text
/// that replaces an exact-case match.
#[rustfmt::skip]
pub(crate) static ASCII: &[(&str, &str)] = &[
${ascii.map(([k, v]) => `    (${rustStr(k)}, ${rustStr(v)}),`).join('\n')}
];
`;
mkdirSync(dirname(tablePath), { recursive: true });
writeFileSync(tablePath, table);

// ---------------------------------------------------------------------------
// 4. Fixture corpus.

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

// Plain text, empty, no colon.
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
	':SMILE:smile:',
	':Smile:',
	':not_an_emoji:',
	':not_an_emoji:smile:',
	':smile_cat::smiley_cat:',
	'a:smile:b',
	'x:smile:',
	':smile:x',
	'10:30:45',
	'at 10:30 or 11:45:smile:',
	'12:00:00:smile:',
	'http://example.com:8080/path',
	'https://example.com/a:smile:b',
	'user:pass@host:22',
	'C:\\Users\\smile:',
	'::1',
	'ipv6 fe80::1:2',
	'ratio 1:1 and 16:9',
	':+1:',
	':-1:',
	':thumbsup:',
	':thumbsdown:',
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
	':+1_tone3:',
	':family_mwgb:',
	':kiss_mm:',
	':couplekiss_mm:',
	':england:',
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
const html = [
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
	'<span>:)</span> :)',
	'<p :) > :)',
	'<div>:)</div>',
	'<a> :) </a>',
	'<3',
	' <3',
	'<3 <3',
	'</3',
	'i <3 you',
	'i </3 you',
	'<span>x</span> <3',
	'<p>:D</p>',
	'&lt;3',
	'&gt;:(',
	' &gt;:( ',
];
html.forEach(add);

// Every shortname and alternate alone.
for (const [name] of shortnames) add(name);
for (const alt of alternatesSorted) add(alt);

// Case variants.
for (let i = 0; i < shortnames.length; i += 4) {
	const name = shortnames[i][0];
	add(name.toUpperCase());
	add(mixCase(name));
	add(`${name.toUpperCase()}${name}`);
}
for (let i = 0; i < alternatesSorted.length; i += 8) add(alternatesSorted[i].toUpperCase());

// Sentences with random shortnames.
const words = ['hello', 'world', 'ok', 'see', 'you', 'at', '10:30', 'lol', 'nice', 'x', '42', 'the', 'café', '日本', '🙂', '—'];
const allNames = [...shortnames.map(([k]) => k), ...alternatesSorted];
for (let n = 0; n < 700; n++) {
	const parts = [];
	const len = 1 + Math.floor(rand() * 8);
	for (let j = 0; j < len; j++) {
		const r = rand();
		if (r < 0.35) parts.push(pick(allNames));
		else if (r < 0.4) parts.push(pick(allNames).toUpperCase());
		else if (r < 0.45) parts.push(pick(allNames).slice(0, -1));
		else parts.push(pick(words));
	}
	const sep = pick([' ', ' ', ' ', '', '\n', ', ', ':']);
	add(parts.join(sep));
}

// Adjacent shortnames.
for (let n = 0; n < 200; n++) {
	add(pick(allNames) + pick(allNames));
	add(pick(allNames) + pick(allNames).slice(1));
}

// ASCII emoticons.
const asciiCtx = [
	(a) => a,
	(a) => `hi ${a}`,
	(a) => `${a} there`,
	(a) => `hi ${a} there`,
	(a) => `${a}!`,
	(a) => `${a},`,
	(a) => `${a}.`,
	(a) => `${a}?`,
	(a) => `${a};`,
	(a) => `${a}a`,
	(a) => `x${a}`,
	(a) => `\t${a}\t`,
	(a) => `\n${a}\n`,
	(a) => `\u00a0${a}\u00a0`,
	(a) => `\u3000${a}`,
	(a) => `${a} ${a}`,
	(a) => `${a}${a}`,
	(a) => `(${a})`,
	(a) => a.toLowerCase(),
	(a) => ` ${a.toUpperCase()} `,
	(a) => `:smile: ${a}`,
	(a) => `${a} :smile:`,
];
for (const [lit] of ascii) for (const ctx of asciiCtx) add(ctx(lit));
[
	':)',
	':-)',
	':D',
	':d',
	';)',
	'XD',
	':P',
	':p',
	':-p',
	':b',
	':B',
	':-þ',
	':þ',
	':-Þ',
	':Þ',
	'x-p',
	'(Y)',
	'(y)',
	'o_o',
	'O_o',
	'>.<',
	'D:',
	'd:',
	':):)',
	':) :)',
	':)  :)',
	':)\n:)',
	'smile :)',
	'smile:)',
	':) smile',
	'8)',
	'B)',
	'b)',
	'8-)',
	'\\o/',
	'\\O/',
	'*\\o/*',
	"':)",
	":')",
	'\u2028:)',
	'\u200b:)',
	'\ufeff:)',
	'\u180e:)',
	'\u2009:)\u2009',
	':)\u00a0',
	'0:)',
	'0:3',
	'O:)',
	'o:)',
	'time 10:30 :)',
	':)))',
	':(',
	':((',
	'<span>:)</span>',
	':) <span>',
	'a :) b :( c ;) d',
	'ok:)',
	':)ok',
].forEach(add);

// Random fuzz over a token alphabet that exercises every rule.
const tokens = [
	':', ':', ':', 'smile', 'SMILE', 'wink', '+1', 'thumbsup', 'tm', 'x', 'o', 'a', 'p', 'b', 'D', ')', '(', '-', '_', '/', '\\',
	' ', ' ', ' ', '\n', '\t', '\u00a0', '\u2028', '<', '>', '<span>', '</span>', '<SPAN', '</SPAN>', '<object>', '</object>',
	'<p', '<a', '<img', '<b', '!', '?', ',', '.', ';', '=', '3', '8', 'O', 'X', 'þ', 'Þ', '😀', 'é', '日', '👍🏽', "'",
	':smile:', ':)', ':D', '<3', '10:30',
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
"library": ${JSON.stringify(`emojione@${libVersion} shortnameToUnicode, with Rocket.Chat 7.x server set-up (extra shortnames, ascii = true)`)},
"cases": [
${cases.map((c) => JSON.stringify(c)).join(',\n')}
]
}
`;
mkdirSync(dirname(fixturePath), { recursive: true });
writeFileSync(fixturePath, fixture);

console.log(
	`emojione@${libVersion}: ${shortnames.length} shortnames, ${alternatesSorted.length} alternates, ${ascii.length} ascii; ${cases.length} fixture cases`,
);
