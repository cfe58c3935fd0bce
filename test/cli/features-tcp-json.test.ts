import { featuresSuite } from './features-suite.js';

featuresSuite('tcp-json');
