import type { Command } from 'commander'
import type { CliState } from './context.js'

export function registerMaintenance(_program: Command, _state: CliState): void {}
