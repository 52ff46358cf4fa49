// Runs the reference Bluesky PDS and a PLC directory in one Node process, on loopback only,
// for campaign-scheduler's integration tests. Started by start-pds.sh; configured through the
// PDS_* environment variables the PDS itself documents.
//
// * The PLC directory (@did-plc/server, in-memory database) listens on a port the kernel picks;
//   the PDS learns its address through PDS_DID_PLC_URL before it is created.
// * Both servers call listen(port) without a host, which would bind every interface. The
//   patch below adds the loopback address to such calls.
// * When ready, one JSON line goes to stdout: {"ready": true, "pds": ..., "plc": ...}.
import net from 'node:net'

const host = process.env.BIND_HOST || '127.0.0.1'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, host)
  } else if (first && typeof first === 'object' && first.path === undefined && !first.host) {
    args[0] = { ...first, host }
  }
  return listen.apply(this, args)
}

const started = Date.now()
const plcModule = await import('@did-plc/server')
const { PlcServer, Database: PlcDatabase } = plcModule.default ?? plcModule
const { PDS, envToCfg, envToSecrets, readEnv } = await import('@atproto/pds')

const plc = PlcServer.create({ db: PlcDatabase.mock(), port: 0 })
const plcServer = await plc.start()
const plcUrl = `http://${host}:${plcServer.address().port}`
process.env.PDS_DID_PLC_URL = plcUrl

const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()
const pdsUrl = `http://${host}:${pds.server.address().port}`

console.log(JSON.stringify({ ready: true, pds: pdsUrl, plc: plcUrl, ms: Date.now() - started }))

let stopping = false
async function stop(signal) {
  if (stopping) return
  stopping = true
  console.log(JSON.stringify({ stopping: signal }))
  for (const server of [pds, plc]) {
    try {
      await server.destroy()
    } catch (error) {
      console.error('shutdown failed:', error)
    }
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
