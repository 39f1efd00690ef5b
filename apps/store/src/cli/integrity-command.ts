import type { Command } from 'commander'
import type { CliState } from './context.js'

export function registerIntegrity(_program: Command, _state: CliState): void {}
