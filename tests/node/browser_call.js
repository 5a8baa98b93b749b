// SPDX-License-Identifier: BSD-3-Clause
// A real browser in tests/integration/webrtc_browser.sh: Debian's headless Chromium, driven
// over CDP by puppeteer-core, loads the WebRTC demo page (examples/webrtc/, served by its
// serve.js) and works it as a person would through window.demo: register over WSS, call a
// device, hang up, then answer the device's call. The microphone is Chromium's fake device
// playing a WAV file (a tone); the page hears the remote track with a WebAudio AnalyserNode.
//
//   node browser_call.js [--call-only] PAGE_URL WAV SPKI_SHA256 TARGET CALL_S [CHROMIUM]
//
// SPKI_SHA256: base64 sha-256 of the WSS certificate's public key (the test CA's leaf), the
// one certificate Chromium then accepts unverified (--ignore-certificate-errors-spki-list).
// Prints one line per step, read by the test:
//   registered
//   call {json}     after the call to TARGET, hung up by the page after CALL_S seconds
//   waiting         ready for a call to it
//   answer {json}   after the incoming call ended (the device hangs up), or 40 s
// --call-only (make run's demo, tests/run-appliance.sh): the call only, no waiting/answer.
// {json}: the page's state: call (ended/failed), cause, direction, heard ([{t, hz, db}] every
// 100 ms: the remote audio's strongest frequency), stats (getStats of the leg, last
// second), log. Exit 0 when both steps ran (the test judges them), 1 otherwise.
'use strict';
const puppeteer = require('puppeteer-core');

const argv = process.argv.slice(2);
const callOnly = argv[0] === '--call-only';
const [url, wav, spki, target, callS, exe] = callOnly ? argv.slice(1) : argv;
if (!url || !wav || !spki || !target || !(Number(callS) > 0)) {
	console.error('usage: node browser_call.js PAGE_URL WAV SPKI_SHA256 TARGET CALL_S [CHROMIUM]');
	process.exit(2);
}
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
		say('registered');
		const state = () => page.evaluate(() => JSON.stringify(window.demo.state));
		const over = 'window.demo.state.call === "ended" || window.demo.state.call === "failed"';

		await page.evaluate((t) => window.demo.call(t), target);
		await page.waitForFunction('window.demo.state.call === "confirmed" || ' + over, { timeout: 15000 });
		if ((await page.evaluate(() => window.demo.state.call)) === 'confirmed') {
			await sleep(Number(callS) * 1000);
			await page.evaluate(() => window.demo.hangup());
			await page.waitForFunction(over, { timeout: 5000 });
		}
		say('call', await state());
		if (callOnly)
			return;

		say('waiting');
		await page.waitForFunction('window.demo.state.direction === "incoming"', { timeout: 20000 });
		await page.waitForFunction(over, { timeout: 40000 }).catch(() => {});
		say('answer', await state());
	} finally {
		await browser.close();
	}
}
main().then(
	() => process.exit(0),
	(e) => {
		console.error(`browser_call: ${e.message}`);
		process.exit(1);
	},
);
