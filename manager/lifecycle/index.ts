/** The node lifecycle: the pure state machine and its decision helper. */
export * from './node-machine.js'
