// The worker's Bedrock permission, from the models this stage may use (params imageModels and bedrockRegion):
// bedrock:InvokeModel on exactly the foundation models named `bedrock/<model id>`, or an explicit deny when there
// are none. Resolved by `serverless package` (a ${file(...)} variable), so IAM follows IMAGE_MODELS by itself.
module.exports = async ({ resolveVariable }) => {
  const models = String(await resolveVariable('param:imageModels'))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.startsWith('bedrock/'))
    .map((name) => name.slice('bedrock/'.length));
  const region = String(await resolveVariable('param:bedrockRegion'));
  if (models.length === 0) {
    return { Effect: 'Deny', Action: ['bedrock:InvokeModel'], Resource: '*' };
  }
  return {
    Effect: 'Allow',
    Action: ['bedrock:InvokeModel'],
    Resource: models.map((id) => `arn:aws:bedrock:${region}::foundation-model/${id}`),
  };
};
