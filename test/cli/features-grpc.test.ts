import { featuresSuite } from './features-suite.js';

featuresSuite('grpc');
