// Third-party OCPP charger built on ocpp-rpc, used to check the Python central system
// against an independent implementation. strictMode validates every inbound and
// outbound message against the official OCPP JSON schemas.
//
// Usage: node third_party_charger.mjs <endpoint> <identity> <ocpp1.6|ocpp2.0.1> <validIdTag>
//   env LINGER_MS (default 0): stay connected this long after the scripted flow,
//   answering commands from the CSMS.
//
// stdout: one JSON object per line ("command", "result", "callError", "mismatch",
// "strictValidationFailure", "badMessage", "close", and finally "summary").
// Exit code 0 only when the summary says ok.
import { RPCClient, createRPCError } from 'ocpp-rpc';

const PROTOCOLS = ['ocpp1.6', 'ocpp2.0.1'];
const INVALID_TAG = 'UNKNOWN-TAG-XYZ';
const CALL_TIMEOUT_MS = 15000;

const [endpoint, identity, protocol, validIdTag] = process.argv.slice(2);
if (!endpoint || !identity || !PROTOCOLS.includes(protocol) || !validIdTag) {
  console.error('usage: node third_party_charger.mjs <endpoint> <identity> <ocpp1.6|ocpp2.0.1> <validIdTag>');
  process.exit(2);
}
const LINGER_MS = Number(process.env.LINGER_MS ?? 0) || 0;

const emit = (obj) => console.log(JSON.stringify(obj));
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const stats = { strictValidationFailures: 0, badMessages: 0, mismatches: [] };
let closing = false; // set once we close on purpose; any other close is a failure

function mismatch(text) {
  stats.mismatches.push(text);
  emit({ event: 'mismatch', message: text });
}

// reconnect: false so a dropped connection shows up as failed calls instead of a hang.
const client = new RPCClient({
  endpoint,
  identity,
  protocols: [protocol],
  strictMode: true,
  reconnect: false,
  callTimeoutMs: CALL_TIMEOUT_MS,
});

client.on('strictValidationFailure', ({ method, outbound, isCall, error }) => {
  stats.strictValidationFailures++;
  emit({
    event: 'strictValidationFailure',
    message: error?.message,
    method,
    direction: outbound ? 'outbound' : 'inbound',
    kind: isCall ? 'call' : 'response',
  });
});
// Unparseable frames from the CSMS are as bad as schema violations.
client.on('badMessage', ({ buffer, error }) => {
  stats.badMessages++;
  emit({ event: 'badMessage', message: error?.message, raw: buffer?.toString() });
});
client.on('close', ({ code, reason }) => {
  emit({ event: 'close', code, reason: reason?.toString() });
  if (!closing && client.protocol) mismatch(`connection closed by peer (${code})`);
});

/**
 * Send one call, print its result and check it. `check(response)` returns a
 * mismatch description or null. Any CALLERROR/timeout/validation error is a mismatch.
 * Returns the response, or null when the call failed.
 */
async function call(method, params, check = () => null, extra = {}) {
  try {
    const response = await client.call(method, params);
    emit({ event: 'result', method, response, ...extra });
    const problem = check(response);
    if (problem) mismatch(`${method}: ${problem}`);
    return response;
  } catch (err) {
    const error = { code: err.rpcErrorCode ?? err.name, message: err.message, details: err.details };
    emit({ event: 'callError', method, params, error, ...extra });
    mismatch(`${method}: call failed (${error.code}: ${error.message})`);
    return null;
  }
}

// Build a check comparing the value at a dotted path with the expected one.
const expect = (path, wanted) => (response) => {
  const got = path.split('.').reduce((obj, key) => obj?.[key], response);
  return got === wanted ? null : `expected ${path}=${JSON.stringify(wanted)}, got ${JSON.stringify(got)}`;
};

// ---------------------------------------------------------------------------
// Commands from the CSMS

/** Register a handler that logs the command before answering it. */
function handle(method, fn) {
  client.handle(method, async ({ params }) => {
    emit({ event: 'command', method, params });
    return fn(params);
  });
}

// Unknown commands: log them, then answer NotImplemented (OCPP's fallback).
function handleUnknown() {
  client.handle(({ method, params }) => {
    emit({ event: 'command', method, params });
    throw createRPCError('NotImplemented', `${method} not implemented by this charger`);
  });
}

// A real charger follows an accepted TriggerMessage with the requested message;
// do that for the messages we can produce, after the reply has been sent.
function followTrigger(requested, statusParams) {
  const send = {
    Heartbeat: () => call('Heartbeat', {}, () => null, { triggered: true }),
    StatusNotification: () => call('StatusNotification', statusParams, () => null, { triggered: true }),
  }[requested];
  // setImmediate: runs after the CALLRESULT for the TriggerMessage has been sent.
  if (send && !closing) setImmediate(send);
}

function registerHandlers16() {
  // Configuration store: ChangeConfiguration accepts (and stores) any key so the
  // CSMS can read back what it wrote.
  const config = new Map([
    ['HeartbeatInterval', '300'],
    ['MeterValueSampleInterval', '60'],
    ['ConnectionTimeOut', '60'],
    ['NumberOfConnectors', '1'],
  ]);
  const entry = (key) => ({ key, readonly: key === 'NumberOfConnectors', value: config.get(key) });

  handle('RemoteStartTransaction', () => ({ status: 'Accepted' }));
  handle('RemoteStopTransaction', () => ({ status: 'Accepted' }));
  handle('ChangeAvailability', () => ({ status: 'Accepted' }));
  handle('Reset', () => ({ status: 'Accepted' }));
  handle('GetConfiguration', ({ key }) => {
    if (!key?.length) return { configurationKey: [...config.keys()].map(entry) };
    return {
      configurationKey: key.filter((k) => config.has(k)).map(entry),
      unknownKey: key.filter((k) => !config.has(k)),
    };
  });
  handle('ChangeConfiguration', ({ key, value }) => {
    if (key === 'NumberOfConnectors') return { status: 'Rejected' }; // read-only
    config.set(key, value);
    return { status: 'Accepted' };
  });
  handle('TriggerMessage', ({ requestedMessage, connectorId }) => {
    followTrigger(requestedMessage, {
      connectorId: connectorId ?? 1, errorCode: 'NoError', status: 'Available', timestamp: now(),
    });
    return { status: 'Accepted' };
  });
  handle('UnlockConnector', () => ({ status: 'Unlocked' }));
  handleUnknown();
}

function registerHandlers201() {
  // Device model store keyed by "Component/Variable"; SetVariables stores any
  // variable so the CSMS can read back what it wrote.
  const variables = new Map([
    ['OCPPCommCtrlr/HeartbeatInterval', '300'],
    ['SampledDataCtrlr/TxUpdatedInterval', '60'],
    ['AlignedDataCtrlr/Interval', '900'],
  ]);
  const keyOf = ({ component, variable }) => `${component.name}/${variable.name}`;

  handle('RequestStartTransaction', () => ({ status: 'Accepted' }));
  handle('RequestStopTransaction', () => ({ status: 'Accepted' }));
  handle('GetVariables', ({ getVariableData }) => ({
    getVariableResult: getVariableData.map((item) => {
      const result = { component: item.component, variable: item.variable };
      if (item.attributeType) result.attributeType = item.attributeType;
      const value = variables.get(keyOf(item));
      return value === undefined
        ? { ...result, attributeStatus: 'UnknownVariable' }
        : { ...result, attributeStatus: 'Accepted', attributeValue: value };
    }),
  }));
  handle('SetVariables', ({ setVariableData }) => ({
    setVariableResult: setVariableData.map((item) => {
      variables.set(keyOf(item), item.attributeValue);
      const result = { component: item.component, variable: item.variable, attributeStatus: 'Accepted' };
      if (item.attributeType) result.attributeType = item.attributeType;
      return result;
    }),
  }));
  handle('ChangeAvailability', () => ({ status: 'Accepted' }));
  handle('Reset', () => ({ status: 'Accepted' }));
  handle('TriggerMessage', ({ requestedMessage, evse }) => {
    followTrigger(requestedMessage, {
      timestamp: now(), connectorStatus: 'Available', evseId: evse?.id ?? 1, connectorId: evse?.connectorId ?? 1,
    });
    return { status: 'Accepted' };
  });
  handle('UnlockConnector', () => ({ status: 'Unlocked' }));
  handleUnknown();
}

// ---------------------------------------------------------------------------
// Scripted flows

async function flow16() {
  const status = (s) => ({ connectorId: 1, errorCode: 'NoError', status: s, timestamp: now() });

  await call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop-16' },
    expect('status', 'Accepted'));
  await call('StatusNotification', status('Available'));
  await call('Heartbeat', {});
  await call('Authorize', { idTag: validIdTag }, expect('idTagInfo.status', 'Accepted'));
  await call('Authorize', { idTag: INVALID_TAG }, expect('idTagInfo.status', 'Invalid'));
  await call('StatusNotification', status('Preparing'));

  const start = await call('StartTransaction',
    { connectorId: 1, idTag: validIdTag, meterStart: 1000, timestamp: now() },
    (r) => expect('idTagInfo.status', 'Accepted')(r)
      ?? (Number.isInteger(r.transactionId) ? null : 'missing transactionId'));
  const transactionId = start?.transactionId ?? null;

  await call('StatusNotification', status('Charging'));
  if (transactionId === null) {
    // StopTransaction needs the id; without it the rest of the transaction is meaningless.
    mismatch('MeterValues/StopTransaction skipped: no transactionId');
  } else {
    await call('MeterValues', {
      connectorId: 1,
      transactionId,
      meterValue: [{
        timestamp: now(),
        sampledValue: [
          { value: '4000', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
          { value: '7200', measurand: 'Power.Active.Import', unit: 'W', context: 'Sample.Periodic' },
        ],
      }],
    });
    await call('StopTransaction', {
      transactionId,
      meterStop: 8500,
      timestamp: now(),
      reason: 'EVDisconnected',
      transactionData: [{
        timestamp: now(),
        sampledValue: [
          { value: '8500', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.End' },
        ],
      }],
    });
  }
  await call('DataTransfer', { vendorId: 'org.example.interop', messageId: 'hello', data: '{}' });
  await call('StatusNotification', status('Available'));
  return transactionId;
}

async function flow201() {
  const status = (s) => ({ timestamp: now(), connectorStatus: s, evseId: 1, connectorId: 1 });
  const energy = (value, context) => [{
    timestamp: now(),
    sampledValue: [{ value, measurand: 'Energy.Active.Import.Register', context, unitOfMeasure: { unit: 'Wh' } }],
  }];
  const idToken = { idToken: validIdTag, type: 'ISO14443' };
  const transactionId = `tx-${identity}`;

  await call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'ocpp-rpc', model: 'interop-201' } },
    expect('status', 'Accepted'));
  await call('StatusNotification', status('Available'));
  await call('Heartbeat', {});
  await call('Authorize', { idToken }, expect('idTokenInfo.status', 'Accepted'));
  await call('Authorize', { idToken: { idToken: INVALID_TAG, type: 'ISO14443' } }, expect('idTokenInfo.status', 'Invalid'));
  await call('StatusNotification', status('Occupied'));
  await call('TransactionEvent', {
    eventType: 'Started',
    timestamp: now(),
    triggerReason: 'Authorized',
    seqNo: 0,
    transactionInfo: { transactionId, chargingState: 'Charging' },
    idToken,
    evse: { id: 1, connectorId: 1 },
    meterValue: energy(1000, 'Transaction.Begin'),
  }, expect('idTokenInfo.status', 'Accepted'));
  await call('TransactionEvent', {
    eventType: 'Updated',
    timestamp: now(),
    triggerReason: 'MeterValuePeriodic',
    seqNo: 1,
    transactionInfo: { transactionId, chargingState: 'Charging' },
    meterValue: energy(4000, 'Sample.Periodic'),
  });
  await call('MeterValues', { evseId: 1, meterValue: energy(4500, 'Sample.Periodic') });
  await call('TransactionEvent', {
    eventType: 'Ended',
    timestamp: now(),
    triggerReason: 'EVCommunicationLost',
    seqNo: 2,
    transactionInfo: { transactionId, stoppedReason: 'EVDisconnected' },
    meterValue: energy(8500, 'Transaction.End'),
  });
  await call('StatusNotification', status('Available'));
  await call('NotifyReport', {
    requestId: 1,
    generatedAt: now(),
    seqNo: 0,
    tbc: false,
    reportData: [{
      component: { name: 'OCPPCommCtrlr' },
      variable: { name: 'HeartbeatInterval' },
      variableAttribute: [{ type: 'Actual', value: '300' }],
    }],
  });
  return transactionId;
}

// ---------------------------------------------------------------------------

async function main() {
  if (protocol === 'ocpp1.6') registerHandlers16(); else registerHandlers201();

  let transactionId = null;
  try {
    await client.connect();
  } catch (err) {
    mismatch(`connect failed: ${err.message}`);
  }
  if (client.protocol !== undefined && client.protocol !== protocol) {
    mismatch(`negotiated subprotocol ${client.protocol}, expected ${protocol}`);
  }

  if (stats.mismatches.length === 0) {
    transactionId = protocol === 'ocpp1.6' ? await flow16() : await flow201();
    if (LINGER_MS > 0) await sleep(LINGER_MS);
    // awaitPending: let replies to commands (and triggered messages) finish first.
    closing = true;
    await client.close({ code: 1000, awaitPending: true });
  }

  const ok = stats.strictValidationFailures === 0 && stats.badMessages === 0 && stats.mismatches.length === 0;
  emit({
    event: 'summary',
    identity,
    protocol,
    strictValidationFailures: stats.strictValidationFailures,
    badMessages: stats.badMessages,
    mismatches: stats.mismatches,
    transactionId,
    ok,
  });
  process.exit(ok ? 0 : 1);
}

await main();
