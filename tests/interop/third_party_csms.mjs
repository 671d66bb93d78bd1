// Third-party OCPP CSMS built on ocpp-rpc, used to check the project's emulated
// chargers against an independent implementation. strictMode validates every
// inbound and outbound message against the official OCPP JSON schemas.
//
// Usage: node third_party_csms.mjs <port>
//   env SUMMARY_FILE: JSON file (re)written after each client's command list
//                     finishes, when a client disconnects and on shutdown.
//   env ID_TAG:       idTag/idToken used for remote starts (default "RPC-TAG").
//
// stdout: "LISTENING" once the server is up, then one JSON object per line.
import { writeFileSync, renameSync } from 'node:fs';
import { RPCServer, createRPCError } from 'ocpp-rpc';

const PROTOCOLS = ['ocpp2.0.1', 'ocpp1.6']; // server preference order
const HOST = '127.0.0.1';
const WAIT_TIMEOUT_MS = 10000;
const POLL_MS = 100;
const COMMANDS_DELAY_MS = 200;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node third_party_csms.mjs <port>');
  process.exit(2);
}
const SUMMARY_FILE = process.env.SUMMARY_FILE;
const ID_TAG = process.env.ID_TAG || 'RPC-TAG';

const emit = (obj) => console.log(JSON.stringify(obj));
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Per-identity records survive reconnects (e.g. a charger rebooting after Reset),
// so each charger appears once in the summary.
const records = {};
const rejected = [];
let nextTransactionId = 1;

function recordFor(identity, protocol) {
  records[identity] ??= {
    protocol,
    done: false,
    commandsStarted: false,
    connections: 0,
    commands: [],
    receivedMessages: [],
    strictValidationFailures: 0,
    badMessages: 0,
    errors: [],
  };
  return records[identity];
}

function writeSummary() {
  if (!SUMMARY_FILE) return;
  const clients = {};
  for (const [identity, { commandsStarted, ...rec }] of Object.entries(records)) {
    const received = {};
    for (const { method } of rec.receivedMessages) received[method] = (received[method] ?? 0) + 1;
    clients[identity] = { ...rec, received };
  }
  // Write-then-rename so a reader polling the file never sees half a JSON document.
  const tmp = `${SUMMARY_FILE}.tmp`;
  writeFileSync(tmp, JSON.stringify({ clients, rejected }, null, 2));
  renameSync(tmp, SUMMARY_FILE);
}

const server = new RPCServer({ protocols: PROTOCOLS, strictMode: true, callTimeoutMs: 15000 });

// No authentication, but insist on an OCPP subprotocol: without one ocpp-rpc would
// accept the connection with strict validation silently switched off.
server.auth((accept, reject, handshake) => {
  const protocol = PROTOCOLS.find((p) => handshake.protocols.has(p));
  if (!protocol) {
    const entry = { identity: handshake.identity, offered: [...handshake.protocols] };
    rejected.push(entry);
    emit({ event: 'rejected', reason: 'no supported OCPP subprotocol', ...entry });
    reject(400, 'No supported OCPP subprotocol offered');
    return;
  }
  accept({}, protocol);
});

server.on('client', (client) => {
  const { identity, protocol } = client;
  const rec = recordFor(identity, protocol);
  rec.protocol = protocol;
  rec.connections++;
  emit({ event: 'connected', identity, protocol });

  client.on('strictValidationFailure', ({ method, outbound, isCall, error }) => {
    rec.strictValidationFailures++;
    const direction = outbound ? 'outbound' : 'inbound';
    const kind = isCall ? 'call' : 'response';
    rec.errors.push(`strictValidationFailure ${direction} ${kind} ${method}: ${error?.message}`);
    emit({ event: 'strictValidationFailure', identity, method, direction, kind, message: error?.message });
  });
  client.on('badMessage', ({ buffer, error }) => {
    rec.badMessages++;
    rec.errors.push(`badMessage: ${error?.message}`);
    emit({ event: 'badMessage', identity, message: error?.message, raw: buffer?.toString() });
  });
  client.on('close', ({ code, reason }) => {
    emit({ event: 'closed', identity, code, reason: reason?.toString() });
    writeSummary();
  });

  /** Register a handler that records the message (and our reply) before returning it. */
  const handle = (method, reply) => client.handle(method, ({ params }) => {
    const response = reply(params);
    rec.receivedMessages.push({ method, params, response });
    emit({ event: 'received', identity, method, params, response });
    return response;
  });

  handle('BootNotification', () => {
    // Drive the command list once per identity, outside the handler so the
    // BootNotification reply goes out first. Later boots (after Reset) don't repeat it.
    if (!rec.commandsStarted) {
      rec.commandsStarted = true;
      setTimeout(() => runCommands(client, rec), COMMANDS_DELAY_MS);
    }
    return { status: 'Accepted', interval: 60, currentTime: now() };
  });
  handle('Heartbeat', () => ({ currentTime: now() }));
  handle('StatusNotification', () => ({}));
  handle('MeterValues', () => ({}));
  handle('DataTransfer', () => ({ status: 'Accepted' }));
  handle('FirmwareStatusNotification', () => ({}));
  handle('SecurityEventNotification', () => ({}));
  if (protocol === 'ocpp1.6') {
    handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
    handle('StartTransaction', () => ({ transactionId: nextTransactionId++, idTagInfo: { status: 'Accepted' } }));
    handle('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
    handle('DiagnosticsStatusNotification', () => ({}));
  } else {
    handle('Authorize', () => ({ idTokenInfo: { status: 'Accepted' } }));
    handle('TransactionEvent', (params) => (params.idToken ? { idTokenInfo: { status: 'Accepted' } } : {}));
    handle('NotifyReport', () => ({}));
    handle('NotifyEvent', () => ({}));
    handle('LogStatusNotification', () => ({}));
  }
  client.handle(({ method, params }) => {
    rec.receivedMessages.push({ method, params, error: 'NotImplemented' });
    emit({ event: 'received', identity, method, params, error: 'NotImplemented' });
    throw createRPCError('NotImplemented', `${method} not handled by this CSMS`);
  });
});

// ---------------------------------------------------------------------------
// Commands driven towards each charger

/** Send one command and record its response or error; never throws. */
async function command(client, rec, method, params) {
  const entry = { method, params };
  try {
    entry.response = await client.call(method, params);
  } catch (err) {
    entry.error = { code: err.rpcErrorCode ?? err.name, message: err.message };
    rec.errors.push(`${method}: ${entry.error.code}: ${entry.error.message}`);
  }
  rec.commands.push(entry);
  emit({ event: 'command', identity: client.identity, ...entry });
  return entry;
}

/** Poll the messages received since index `from` for one matching `pred`. */
async function waitForMessage(rec, from, description, pred) {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const found = rec.receivedMessages.slice(from).find(pred);
    if (found) return found;
    await sleep(POLL_MS);
  }
  rec.errors.push(`timeout after ${WAIT_TIMEOUT_MS} ms waiting for ${description}`);
  return null;
}

async function commands16(client, rec) {
  await command(client, rec, 'GetConfiguration', { key: ['HeartbeatInterval', 'MeterValueSampleInterval'] });
  await command(client, rec, 'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '30' });
  await command(client, rec, 'GetConfiguration', {});
  await command(client, rec, 'TriggerMessage', { requestedMessage: 'Heartbeat' });
  await command(client, rec, 'TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 1 });

  // Only messages after the request count: the charger may have had earlier transactions.
  let mark = rec.receivedMessages.length;
  await command(client, rec, 'RemoteStartTransaction', { idTag: ID_TAG, connectorId: 1 });
  const started = await waitForMessage(rec, mark, 'StartTransaction', (m) => m.method === 'StartTransaction');
  if (started) {
    mark = rec.receivedMessages.length;
    const { transactionId } = started.response; // assigned by us in the StartTransaction reply
    await command(client, rec, 'RemoteStopTransaction', { transactionId });
    await waitForMessage(rec, mark, 'StopTransaction',
      (m) => m.method === 'StopTransaction' && m.params.transactionId === transactionId);
  }

  await command(client, rec, 'ChangeAvailability', { connectorId: 1, type: 'Inoperative' });
  await command(client, rec, 'ChangeAvailability', { connectorId: 1, type: 'Operative' });
  await command(client, rec, 'UnlockConnector', { connectorId: 1 });
  await command(client, rec, 'Reset', { type: 'Soft' });
}

async function commands201(client, rec) {
  await command(client, rec, 'GetVariables', {
    getVariableData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
      { component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxUpdatedInterval' } },
    ],
  });
  await command(client, rec, 'SetVariables', {
    setVariableData: [
      { component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxUpdatedInterval' }, attributeValue: '30' },
    ],
  });
  await command(client, rec, 'TriggerMessage', { requestedMessage: 'Heartbeat' });
  await command(client, rec, 'TriggerMessage', { requestedMessage: 'StatusNotification', evse: { id: 1, connectorId: 1 } });

  const isEvent = (type) => (m) => m.method === 'TransactionEvent' && m.params.eventType === type;
  let mark = rec.receivedMessages.length;
  await command(client, rec, 'RequestStartTransaction', {
    idToken: { idToken: ID_TAG, type: 'ISO14443' }, remoteStartId: 1, evseId: 1,
  });
  const started = await waitForMessage(rec, mark, 'TransactionEvent Started', isEvent('Started'));
  if (started) {
    mark = rec.receivedMessages.length;
    const { transactionId } = started.params.transactionInfo;
    await command(client, rec, 'RequestStopTransaction', { transactionId });
    await waitForMessage(rec, mark, 'TransactionEvent Ended',
      (m) => isEvent('Ended')(m) && m.params.transactionInfo.transactionId === transactionId);
  }

  await command(client, rec, 'ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 1 } });
  await command(client, rec, 'ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1 } });
  await command(client, rec, 'UnlockConnector', { evseId: 1, connectorId: 1 });
  await command(client, rec, 'Reset', { type: 'OnIdle' });
}

async function runCommands(client, rec) {
  try {
    await (client.protocol === 'ocpp1.6' ? commands16(client, rec) : commands201(client, rec));
  } catch (err) {
    rec.errors.push(`command list aborted: ${err.message}`);
  }
  rec.done = true;
  emit({ event: 'done', identity: client.identity, errors: rec.errors });
  writeSummary();
}

// ---------------------------------------------------------------------------

async function shutdown(signal) {
  emit({ event: 'shutdown', signal });
  try {
    // Close politely, but don't let a peer that ignores the close handshake keep us alive.
    await Promise.race([server.close({ code: 1001, reason: 'CSMS shutting down' }), sleep(2000)]);
  } finally {
    writeSummary();
    process.exit(0);
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

await server.listen(port, HOST);
writeSummary(); // an empty summary exists as soon as we listen
console.log('LISTENING');
