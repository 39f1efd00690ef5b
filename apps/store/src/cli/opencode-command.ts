import type { Command } from 'commander'
import type { CliState } from './context.js'

export function registerImportOpencode(_program: Command, _state: CliState): void {}
