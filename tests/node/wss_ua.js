// SPDX-License-Identifier: BSD-3-Clause
// A SIP over WebSocket user agent for tests/integration/slowpath_wss.sh: JsSIP (npm, the
// library browsers' SIP clients use) with its own WebSocketInterface, over `ws` standing in
// for the browser's WebSocket (node 20 has none), with the Origin a page would send.
//
//   node wss_ua.js URL USER PASSWORD ORIGIN CA_FILE SECONDS [REJECT_CODE]
//
// Registers USER, prints one line per event ("registered", "registration_failed CAUSE
// STATUS", "incoming FROM_USER TRANSPORT", "disconnected CODE"), stays SECONDS, and answers
// an incoming call with REJECT_CODE (default 486: no media leg here). Exit 0 when it
// registered, 1 when it did not.
'use strict';
const fs = require('fs');
const WS = require('ws');
const JsSIP = require('jssip');

const [url, user, password, origin, caFile, secs, rejectArg] = process.argv.slice(2);
const reject = Number(rejectArg || 486);
const ca = fs.readFileSync(caFile);

// What JsSIP's WebSocketInterface calls: new WebSocket(url, 'sip'), as in a browser.
global.WebSocket = class extends WS {
	constructor(u, protocols) {
		super(u, protocols, { origin, ca, servername: undefined });
	}
};

// JsSIP takes an INVITE only where a browser's RTCPeerConnection exists; this UA never
// answers one (no media leg), so a stand-in that is never constructed will do.
global.window = { RTCPeerConnection: class {} };

const say = (...a) => console.log(a.join(' '));
const socket = new JsSIP.WebSocketInterface(url);
const ua = new JsSIP.UA({
	sockets: [socket],
	uri: `sip:${user}@poprelay`,
	password,
	register: true,
	register_expires: 300,
	connection_recovery_min_interval: 30,
	connection_recovery_max_interval: 60,
	user_agent: 'JsSIP-test',
});
let registered = false;
ua.on('connected', () => say('connected'));
ua.on('disconnected', (e) => say('disconnected', e && e.code !== undefined ? e.code : '-'));
ua.on('registered', () => { registered = true; say('registered'); });
ua.on('registrationFailed', (e) =>
	say('registration_failed', e.cause, e.response ? e.response.status_code : '-'));
ua.on('newRTCSession', (e) => {
	if (e.originator !== 'remote')
		return;
	const req = e.request;
	const via = req.getHeader('Via') || '';
	say('incoming', req.from.uri.user, via.split(' ')[0], req.ruri.toString());
	e.session.terminate({ status_code: reject });
});
ua.start();
setTimeout(() => {
	ua.stop();
	setTimeout(() => process.exit(registered ? 0 : 1), 500);
}, Number(secs) * 1000);
