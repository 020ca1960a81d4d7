// What ssm-secret.ts loads on first use. esbuild keeps every export of a module reached through import(), so
// importing '@aws-sdk/client-ssm' there bundled all of its 140-odd commands (177 KB, compiled by the first JWT +
// SSM request); named here, the client is tree-shaken to what these two need.
export { SSMClient } from '@aws-sdk/client-ssm';
export { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
