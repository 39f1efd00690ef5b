export { default } from '../../vitest.shared.config.js'
