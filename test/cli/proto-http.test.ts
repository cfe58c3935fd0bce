import { protocolSuite } from './protocol-suite.js';

protocolSuite('http');
