/** The test kit: in-process nodes and a controllable clock for users' tests. */
export { FakeClock } from "./FakeClock.js";
export { createTestNode, type TestNode } from "./createTestNode.js";
