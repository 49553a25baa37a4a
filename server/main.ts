#!/usr/bin/env node
import { pino } from 'pino'
import { startNode } from '../src/node.js'
import { DataDirError } from '../src/control/data-dir-error.js'
import { parseStartConfig, startUsage } from './config.js'
import { UsageError } from './flags.js'
import { runAdminCommand } from './admin-cli.js'
import { clusterCommands } from './cluster-cli.js'
import { webhookCommands } from './webhooks-cli.js'
import { namespaceCommands } from './ns-cli.js'
import { docCommands } from './docs-cli.js'
import type { AdminCommandGroup } from './admin-cli.js'
import { backupUsage, runBackup, runRestore } from './backup-cli.js'

const adminGroups: Record<string, AdminCommandGroup> = {
  cluster: clusterCommands,
  ns: namespaceCommands,
  docs: docCommands,
  webhooks: webhookCommands,
}

const usage = `usage: syncmesh <command>

commands:
  start      run a node (syncmesh start --help for its flags)
  cluster    manage the cluster (syncmesh cluster --help)
  ns         manage namespaces (syncmesh ns --help)
  docs       list, read and delete documents (syncmesh docs --help)
  webhooks   manage webhooks (syncmesh webhooks --help)
  backup     save a node's documents and metadata to a file (syncmesh backup --help)
  restore    make a new node's data directory from a backup
`

async function start(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(startUsage())
    return
  }
  const config = parseStartConfig(args, process.env)
  const log = pino({ level: config.logLevel, base: { node: config.node.id } })
  // The last resort: every input has an error boundary of its own, so this is a bug. Said loudly (tests
  // fail on the word), and the process ends, since its state is unknown.
  const die = (kind: string) => (err: unknown) => {
    log.fatal({ err }, `${kind}; exiting`)
    process.exit(70)
  }
  process.on('uncaughtException', die('uncaught exception'))
  process.on('unhandledRejection', die('uncaught promise rejection'))
  const node = await startNode(config.node, log)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    node.close().then(
      () => {
        log.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  // Installed before announcing readiness: a supervisor may signal as soon as it reads the line.
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  if (node.adminTokenPath) log.info({ path: node.adminTokenPath }, 'admin token kept in the data directory')
  log.info({ url: node.url, data: config.node.dataDir }, 'listening')
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return start(rest)
    case 'cluster':
    case 'ns':
    case 'docs':
    case 'webhooks':
      process.exitCode = await runAdminCommand(adminGroups[command]!, rest, process.env, (text) => process.stdout.write(text))
      return
    case 'backup':
    case 'restore': {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(backupUsage)
        return
      }
      const write = (text: string) => process.stdout.write(text)
      process.exitCode = command === 'backup' ? await runBackup(rest, process.env, write) : await runRestore(rest, write)
      return
    }
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(usage)
      return
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`syncmesh: ${err.message}\n\n${usage}`)
    process.exit(2)
  }
  if (err instanceof DataDirError) {
    process.stderr.write(`syncmesh: ${err.message}\n`)
    process.exit(1)
  }
  process.stderr.write(`syncmesh: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
