// What lambda-job-dispatcher.ts loads on its first dispatch: named here so that esbuild tree-shakes the Lambda
// client (a module reached through import() keeps every export; see ssm-sdk.ts).
export { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
