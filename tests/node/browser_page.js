// SPDX-License-Identifier: BSD-3-Clause
// One real browser, one role, for tests/integration/webrtc_browser2.sh: Debian's headless
// Chromium, driven over CDP by puppeteer-core, loads the WebRTC demo page (examples/webrtc/,
// served by its serve.js, whose /config.json gives the account and, for a relay-only page,
// the iceServers with TURN REST credentials) and registers over WSS; then either calls
// TARGET and hangs up after CALL_S seconds, or waits for a call, answers it (the page's
// auto-answer) and waits for its end. The microphone is Chromium's fake device playing a WAV
// file (a tone); the page hears the remote track with a WebAudio AnalyserNode. Two of these
// (two browsers: the fake device's file is per browser) make a browser-to-browser call.
//
//   node browser_page.js PAGE_URL WAV SPKI_SHA256 call TARGET CALL_S [CHROMIUM]
//   node browser_page.js PAGE_URL WAV SPKI_SHA256 answer WAIT_S [CHROMIUM]
//
// SPKI_SHA256: base64 sha-256 of the WSS certificate's public key, the one certificate
// Chromium then accepts unverified (--ignore-certificate-errors-spki-list).
// Prints one line per step, read by the test:
//   registered     (with the page's iceTransportPolicy and TURN username, never the credential)
//   waiting        (answer) ready for a call
//   call {json}    (call) after the call, hung up by the page after CALL_S seconds
//   answer {json}  (answer) after the incoming call ended, or WAIT_S seconds
// {json}: the page's state (examples/webrtc/app.js): call, cause, direction, heard, stats, log.
// Exit 0 when the steps ran (the test judges them), 1 otherwise.
'use strict';
const puppeteer = require('puppeteer-core');

const [url, wav, spki, mode, ...rest] = process.argv.slice(2);
const usage = () => {
	console.error('usage: node browser_page.js PAGE_URL WAV SPKI_SHA256 (call TARGET CALL_S | answer WAIT_S) [CHROMIUM]');
	process.exit(2);
};
if (!url || !wav || !spki)
	usage();
let target, callS, waitS, exe;
if (mode === 'call')
	[target, callS, exe] = rest;
else if (mode === 'answer')
	[waitS, exe] = rest;
else
	usage();
if (mode === 'call' && (!target || !(Number(callS) > 0)))
	usage();
if (mode === 'answer' && !(Number(waitS) > 0))
	usage();
const say = (...a) => console.log(a.join(' '));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
	const browser = await puppeteer.launch({
		executablePath: exe || '/usr/bin/chromium',
		headless: true,
		// no GPU, no sandbox (the tests run as root), no first-run or background traffic
		args: [
			'--no-sandbox',
			'--disable-gpu',
			'--no-first-run',
			'--disable-background-networking',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			`--use-file-for-fake-audio-capture=${wav}`,
			'--autoplay-policy=no-user-gesture-required',
			`--ignore-certificate-errors-spki-list=${spki}`,
		],
	});
	try {
		const page = await browser.newPage();
		page.on('console', (m) => console.error(`page: ${m.text()}`));
		page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
		await page.goto(url, { waitUntil: 'load' });
		await page.waitForFunction('window.demo && window.demo.ready', { timeout: 10000 });
		await page.evaluate(() => window.demo.register());
		await page.waitForFunction('window.demo.state.registered', { timeout: 10000 });
		const ice = await page.evaluate(() => ({
			policy: window.demo.config.iceTransportPolicy || 'all',
			turnUser: (window.demo.config.iceServers || []).map((s) => s.username).join(','),
		}));
		say('registered', JSON.stringify(ice));
		const state = () => page.evaluate(() => JSON.stringify(window.demo.state));
		const over = 'window.demo.state.call === "ended" || window.demo.state.call === "failed"';

		if (mode === 'call') {
			await page.evaluate((t) => window.demo.call(t), target);
			await page.waitForFunction('window.demo.state.call === "confirmed" || ' + over, { timeout: 20000 });
			if ((await page.evaluate(() => window.demo.state.call)) === 'confirmed') {
				await sleep(Number(callS) * 1000);
				await page.evaluate(() => window.demo.hangup());
				await page.waitForFunction(over, { timeout: 5000 });
			}
			say('call', await state());
			return;
		}
		say('waiting');
		const deadline = Number(waitS) * 1000;
		await page.waitForFunction('window.demo.state.direction === "incoming"', { timeout: deadline });
		await page.waitForFunction(over, { timeout: deadline }).catch(() => {});
		say('answer', await state());
	} finally {
		await browser.close();
	}
}
main().then(
	() => process.exit(0),
	(e) => {
		console.error(`browser_page: ${e.message}`);
		process.exit(1);
	},
);
