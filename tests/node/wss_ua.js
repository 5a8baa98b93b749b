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
//
// With a given SDP it stands in for a browser's SDP side (tests/integration/webrtc_sdp.sh):
// its RTCPeerConnection is a stub that hands JsSIP the SDP of a file as its own and writes
// the SDP it is given (the relay's) to WSS_UA_REMOTE; no media flows.
//   WSS_UA_ANSWER=file  answer an incoming call (200) with this SDP instead of rejecting it
//   WSS_UA_CALL=user WSS_UA_OFFER=file  once registered, call sip:user@poprelay offering it
// More events: "confirmed", "ended CAUSE", "failed CAUSE STATUS".
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

const say = (...a) => console.log(a.join(' '));
const env = process.env;
// What JsSIP's RTCSession calls on a browser's RTCPeerConnection, ICE gathering done.
class StubPC {
	constructor() {
		this.iceGatheringState = 'complete';
		this.iceConnectionState = 'new';
		this.signalingState = 'stable';
		this.localDescription = null;
	}
	addEventListener() {}
	removeEventListener() {}
	getSenders() { return []; }
	getReceivers() { return []; }
	addTrack() {}
	close() {}
	createOffer() { return Promise.resolve({ type: 'offer', sdp: fs.readFileSync(env.WSS_UA_OFFER, 'utf8') }); }
	createAnswer() { return Promise.resolve({ type: 'answer', sdp: fs.readFileSync(env.WSS_UA_ANSWER, 'utf8') }); }
	setLocalDescription(d) { this.localDescription = d; return Promise.resolve(); }
	setRemoteDescription(d) {
		if (env.WSS_UA_REMOTE)
			fs.writeFileSync(env.WSS_UA_REMOTE, d.sdp);
		say('remote_sdp', d.type);
		return Promise.resolve();
	}
}
global.RTCSessionDescription = class { constructor(o) { Object.assign(this, o); } };
global.RTCPeerConnection = StubPC;
global.window = { RTCPeerConnection: StubPC };
const noMedia = { mediaConstraints: { audio: false, video: false } };
const watch = (session) => {
	session.on('confirmed', () => say('confirmed'));
	session.on('ended', (e) => say('ended', e.cause));
	session.on('failed', (e) => say('failed', e.cause, e.message && e.message.status_code ? e.message.status_code : '-'));
};
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
ua.on('registered', () => {
	registered = true;
	say('registered');
	if (env.WSS_UA_CALL && !ua.called) {
		ua.called = true;
		watch(ua.call(`sip:${env.WSS_UA_CALL}@poprelay`, noMedia));
	}
});
ua.on('registrationFailed', (e) =>
	say('registration_failed', e.cause, e.response ? e.response.status_code : '-'));
ua.on('newRTCSession', (e) => {
	if (e.originator !== 'remote')
		return;
	const req = e.request;
	const via = req.getHeader('Via') || '';
	say('incoming', req.from.uri.user, via.split(' ')[0], req.ruri.toString());
	if (env.WSS_UA_ANSWER) {
		watch(e.session);
		e.session.answer(noMedia);
		return;
	}
	e.session.terminate({ status_code: reject });
});
ua.start();
setTimeout(() => {
	ua.stop();
	setTimeout(() => process.exit(registered ? 0 : 1), 500);
}, Number(secs) * 1000);
