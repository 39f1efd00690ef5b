export type { OperationInfo, OperationLogConfig, OperationStatus } from './operation-log.js'
export { OperationLog } from './operation-log.js'
