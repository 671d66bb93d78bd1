// A stand-in for a real charger on a HIL rig, built on the third-party ocpp-rpc client
// (strict mode: every message in and out is checked against the official OCPP 1.6J schemas).
// It runs until SIGTERM/SIGINT, as hardware would, and does what the twin needs of hardware:
//
// - RemoteStartTransaction: Accepted (when idle), then StartTransaction with the given idTag;
// - MeterValues every METER_INTERVAL_MS while charging: the energy register grows at the
//   power it delivers, min(POWER_KW, the TxProfile limit of SetChargingProfile), and
//   Power.Active.Import reports that power;
// - RemoteStopTransaction: Accepted, then StopTransaction with the final register.
//
// Usage: node hardware_charger.mjs <endpoint> <identity> <power_kw>
//   env METER_INTERVAL_MS (default 1000): how often it meters, in wall milliseconds;
//   env SPEED (default 1): its register advances SPEED times faster than the wall clock, so
//   that it keeps pace with a twin running at that speed factor (1 for true hardware timing).
//
// stdout: one JSON object per line ("boot", "command", "started", "meter", "stopped",
// "callError", "strictValidationFailure", "badMessage", "close", finally "summary").
// Exit code 0 only when no message failed validation.
import { RPCClient, createRPCError } from 'ocpp-rpc';

const [endpoint, identity, powerKw] = process.argv.slice(2);
const MAX_POWER_W = Number(powerKw) * 1000;
if (!endpoint || !identity || !(MAX_POWER_W > 0)) {
  console.error('usage: node hardware_charger.mjs <endpoint> <identity> <power_kw>');
  process.exit(2);
}
const METER_INTERVAL_MS = Number(process.env.METER_INTERVAL_MS ?? 1000) || 1000;
const SPEED = Number(process.env.SPEED ?? 1) || 1;
const VOLTS = 230; // for limits given in amperes

const emit = (obj) => console.log(JSON.stringify({ t: new Date().toISOString(), ...obj }));
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const stats = { strictValidationFailures: 0, badMessages: 0, callErrors: 0, transactions: 0 };

const client = new RPCClient({
  endpoint,
  identity,
  protocols: ['ocpp1.6'],
  strictMode: true,
  reconnect: false,
  callTimeoutMs: 15000,
});
client.on('strictValidationFailure', ({ method, outbound, error }) => {
  stats.strictValidationFailures++;
  emit({ event: 'strictValidationFailure', method, outbound, message: error?.message });
});
client.on('badMessage', ({ error }) => {
  stats.badMessages++;
  emit({ event: 'badMessage', message: error?.message });
});
client.on('close', ({ code }) => emit({ event: 'close', code }));

async function call(method, params) {
  try {
    return await client.call(method, params);
  } catch (err) {
    stats.callErrors++;
    emit({ event: 'callError', method, code: err.rpcErrorCode ?? err.name, message: err.message });
    return null;
  }
}

// ---------------------------------------------------------------------------
// The one connector and its meter

let registerWh = 10_000; // the meter's lifetime register, as a real meter has one
let tx = null; // { id, idTag, limitW, meteredAt, timer }
let status = 'Available';
const config = new Map([
  ['HeartbeatInterval', '300'],
  ['MeterValueSampleInterval', String(Math.round(METER_INTERVAL_MS / 1000))],
  ['NumberOfConnectors', '1'],
  ['AuthorizeRemoteTxRequests', 'false'],
]);

async function setStatus(next) {
  status = next;
  await call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp: now() });
}

const powerW = () => (tx ? Math.min(MAX_POWER_W, tx.limitW ?? Infinity) : 0);

/** Advance the register to now at the power delivered since the last reading. */
function advance() {
  const at = Date.now();
  registerWh += (powerW() * ((at - tx.meteredAt) / 1000) * SPEED) / 3600;
  tx.meteredAt = at;
}

async function meter() {
  if (!tx) return;
  advance();
  await call('MeterValues', {
    connectorId: 1,
    transactionId: tx.id,
    meterValue: [{
      timestamp: now(),
      sampledValue: [
        { value: String(Math.floor(registerWh)), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
        { value: powerW().toFixed(1), measurand: 'Power.Active.Import', unit: 'W', context: 'Sample.Periodic' },
      ],
    }],
  });
  emit({ event: 'meter', transactionId: tx?.id, registerWh: Math.floor(registerWh), powerW: powerW() });
}

async function startTransaction(idTag) {
  await setStatus('Preparing');
  const meterStart = Math.floor(registerWh);
  const reply = await call('StartTransaction', { connectorId: 1, idTag, meterStart, timestamp: now() });
  if (!reply || reply.idTagInfo?.status !== 'Accepted') {
    emit({ event: 'startRefused', reply });
    if (reply) await call('StopTransaction', { transactionId: reply.transactionId, meterStop: meterStart, timestamp: now(), reason: 'DeAuthorized' });
    await setStatus('Available');
    return;
  }
  stats.transactions++;
  tx = { id: reply.transactionId, idTag, limitW: null, meteredAt: Date.now(), meterStart, timer: null };
  tx.timer = setInterval(() => { meter(); }, METER_INTERVAL_MS);
  emit({ event: 'started', transactionId: tx.id, idTag, meterStart });
  await setStatus('Charging');
  await meter(); // the first reading at once: the CSMS sees the power from the start
}

async function stopTransaction(reason) {
  if (!tx) return;
  clearInterval(tx.timer);
  advance();
  const ended = tx;
  tx = null;
  const meterStop = Math.floor(registerWh);
  await call('StopTransaction', {
    transactionId: ended.id,
    idTag: ended.idTag,
    meterStop,
    timestamp: now(),
    reason,
    transactionData: [{
      timestamp: now(),
      sampledValue: [{ value: String(meterStop), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.End' }],
    }],
  });
  emit({ event: 'stopped', transactionId: ended.id, meterStart: ended.meterStart, meterStop, reason });
  await setStatus('Finishing');
  await setStatus('Available');
}

/** The limit (W) of a TxProfile's period in force now. */
function limitOf(profile) {
  const schedule = profile.chargingSchedule;
  const started = schedule.startSchedule ? Date.parse(schedule.startSchedule) : Date.now();
  const elapsedS = Math.max(0, (Date.now() - started) / 1000);
  const periods = [...schedule.chargingSchedulePeriod].sort((a, b) => a.startPeriod - b.startPeriod);
  const period = periods.filter((p) => p.startPeriod <= elapsedS).pop() ?? periods[0];
  const phases = period.numberPhases ?? 3;
  return schedule.chargingRateUnit === 'A' ? period.limit * VOLTS * phases : period.limit;
}

// ---------------------------------------------------------------------------
// Commands from the CSMS

function handle(method, fn) {
  client.handle(method, async ({ params }) => {
    emit({ event: 'command', method, params });
    return fn(params);
  });
}

handle('RemoteStartTransaction', ({ idTag }) => {
  if (tx || status !== 'Available') return { status: 'Rejected' };
  setImmediate(() => { startTransaction(idTag); }); // after our answer is on the wire
  return { status: 'Accepted' };
});
handle('RemoteStopTransaction', ({ transactionId }) => {
  if (!tx || tx.id !== transactionId) return { status: 'Rejected' };
  setImmediate(() => { stopTransaction('Remote'); });
  return { status: 'Accepted' };
});
handle('SetChargingProfile', ({ csChargingProfiles: profile }) => {
  if (profile.chargingProfilePurpose === 'TxProfile') {
    if (!tx) return { status: 'Rejected' };
    advance(); // energy so far at the old limit
    tx.limitW = limitOf(profile);
    emit({ event: 'limit', transactionId: tx.id, limitW: tx.limitW });
  }
  return { status: 'Accepted' };
});
handle('ClearChargingProfile', () => {
  if (tx) { advance(); tx.limitW = null; }
  return { status: 'Accepted' };
});
handle('GetConfiguration', ({ key }) => {
  const entry = (k) => ({ key: k, readonly: k === 'NumberOfConnectors', value: config.get(k) });
  if (!key?.length) return { configurationKey: [...config.keys()].map(entry) };
  return {
    configurationKey: key.filter((k) => config.has(k)).map(entry),
    unknownKey: key.filter((k) => !config.has(k)),
  };
});
handle('ChangeConfiguration', ({ key, value }) => {
  if (key === 'NumberOfConnectors') return { status: 'Rejected' };
  config.set(key, value);
  return { status: 'Accepted' };
});
handle('DataTransfer', () => ({ status: 'Accepted' })); // running costs, tariffs: shown
handle('ChangeAvailability', () => ({ status: 'Accepted' }));
handle('TriggerMessage', () => ({ status: 'Rejected' }));
handle('UnlockConnector', () => ({ status: 'Unlocked' }));
client.handle(({ method, params }) => {
  emit({ event: 'command', method, params });
  throw createRPCError('NotImplemented', `${method} not implemented by this charger`);
});

// ---------------------------------------------------------------------------

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  if (tx) await stopTransaction('PowerLoss');
  await client.close({ code: 1000, awaitPending: true }).catch(() => {});
  const ok = stats.strictValidationFailures === 0 && stats.badMessages === 0;
  emit({ event: 'summary', identity, ...stats, ok });
  process.exit(ok ? 0 : 1);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

async function main() {
  for (let attempt = 1; ; attempt++) { // the CSMS may still be starting
    try {
      await client.connect();
      break;
    } catch (err) {
      if (attempt >= 50) { emit({ event: 'connectFailed', message: err.message }); process.exit(1); }
      await sleep(200);
    }
  }
  for (;;) {
    const boot = await call('BootNotification', {
      chargePointVendor: 'ocpp-rpc', chargePointModel: 'hil-stand-in', chargePointSerialNumber: identity,
    });
    emit({ event: 'boot', status: boot?.status, interval: boot?.interval });
    if (boot?.status === 'Accepted') {
      const heartbeatS = Math.min(Math.max(boot.interval || 300, 10), 300);
      setInterval(() => { call('Heartbeat', {}); }, heartbeatS * 1000);
      break;
    }
    await sleep(Math.min((boot?.interval || 5), 5) * 1000); // Pending / Rejected: again soon
  }
  await setStatus('Available');
}

await main();
