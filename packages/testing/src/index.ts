export { compare, type Measurement, machine, replaceSection, table } from './bench.js'
export { type ChildResult, runChild, spawnChild } from './child-process.js'
export { sha256File, tempDir } from './files.js'
