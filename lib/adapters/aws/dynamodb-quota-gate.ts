import { GetItemCommand, UpdateItemCommand, type DynamoDBClient, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { boundedCall, isConditionFailed } from './dynamodb.js';
import { AppError } from '../../errors.js';
import type { ActivityLimits, QuotaLimits } from '../../config.js';
import { microUsdToUsd } from '../../domain/pricing.js';
import { rateLimitHeaders } from '../../domain/rate-limit.js';
import type { ReservationRef } from '../../domain/image-job.js';
import { principalKey, type Principal, type QuotaGate, type QuotaUsage, type Reservation } from '../../ports.js';

export interface DynamoDbQuotaGateOptions {
  table: string;
  defaultLimits: QuotaLimits;
  principalLimits: ReadonlyMap<string, QuotaLimits>;
  globalDailySpendMicroUsd: number;
  activityLimits: ActivityLimits;
}

/** What each counted activity is called in a refusal. */
const ACTIVITY_NAMES: Readonly<Record<keyof ActivityLimits, string>> = {
  uploads: 'Daily upload limit reached',
  inputRefusals: 'Too many input images were refused today',
};

const DAY_MS = 86_400_000;

const utcDay = (now: number): string => new Date(now).toISOString().slice(0, 10);
const nextUtcMidnight = (now: number): number => Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;

/**
 * Daily per-principal limits (images and estimated spend) and a global daily spend cap, as atomic conditional
 * counters in DynamoDB: `ADD` with a condition on the current value, so N concurrent requests can never take
 * more than the limit allows, whatever their interleaving.
 *
 * The principal counter and the global counter are two conditional updates, not one transaction, because
 * TransactWriteItems is missing from the local DynamoDB (dynalite) that the tests and `npm start` use. They are
 * sent together (one round trip before the provider instead of two); when either refuses, what the other took is
 * given back. A crash in between leaves a counter one image high, which errs on the side of not spending.
 */
export class DynamoDbQuotaGate implements QuotaGate {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly options: DynamoDbQuotaGateOptions,
  ) {}

  async reserve(principal: Principal, costEachMicroUsd: number, now: number, count = 1): Promise<Reservation> {
    const key = principalKey(principal);
    const costMicroUsd = costEachMicroUsd * count;
    const limits = this.limitsOf(principal, key);
    const day = utcDay(now);
    const resetAt = nextUtcMidnight(now);
    const refuse = (code: 'quota_exceeded' | 'spend_cap_reached', message: string, remaining: number): AppError => {
      const retryAfter = String(Math.max(1, Math.ceil((resetAt - now) / 1000)));
      return new AppError(code, message, {
        headers: { 'Retry-After': retryAfter, ...rateLimitHeaders(limits.dailyImages, remaining, Number(retryAfter)) },
        details: { costUsd: microUsdToUsd(costMicroUsd) },
      });
    };
    const overSpend = (): AppError =>
      refuse(
        'quota_exceeded',
        `Daily spend limit reached ($${microUsdToUsd(limits.dailySpendMicroUsd)} a day). It resets at 00:00 UTC.`,
        0,
      );
    if (limits.dailyImages < 1) throw refuse('quota_exceeded', 'This caller may not generate images.', 0);
    if (count > limits.dailyImages) {
      throw refuse('quota_exceeded', `${count} images asked for at once; this caller's daily limit is ${limits.dailyImages}.`, 0);
    }
    if (costMicroUsd > limits.dailySpendMicroUsd) throw overSpend();

    const expiresAt = Math.floor(resetAt / 1000) + 2 * 86_400;
    const [principalUpdate, globalUpdate] = await Promise.allSettled([
      this.update({
        TableName: this.options.table,
        Key: { pk: { S: `quota#${key}#${day}` } },
        // reservedMicroUsd: the part of spendMicroUsd still held as an estimate, until settle or release.
        UpdateExpression:
          'ADD images :one, spendMicroUsd :cost, reservedMicroUsd :cost SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
        ConditionExpression:
          '(attribute_not_exists(images) OR images <= :maxImagesBefore) AND ' +
          '(attribute_not_exists(spendMicroUsd) OR spendMicroUsd <= :maxSpendBefore)',
        ExpressionAttributeValues: {
          ':one': { N: String(count) },
          ':cost': { N: String(costMicroUsd) },
          ':expiresAt': { N: String(expiresAt) },
          ':maxImagesBefore': { N: String(limits.dailyImages - count) },
          ':maxSpendBefore': { N: String(limits.dailySpendMicroUsd - costMicroUsd) },
        },
        ReturnValues: 'UPDATED_NEW',
      }),
      this.update({
        TableName: this.options.table,
        Key: { pk: { S: `spend#global#${day}` } },
        UpdateExpression: 'ADD spendMicroUsd :cost SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
        ConditionExpression: 'attribute_not_exists(spendMicroUsd) OR spendMicroUsd <= :maxSpendBefore',
        ExpressionAttributeValues: {
          ':cost': { N: String(costMicroUsd) },
          ':expiresAt': { N: String(expiresAt) },
          ':maxSpendBefore': { N: String(this.options.globalDailySpendMicroUsd - costMicroUsd) },
        },
      }),
    ]);

    if (principalUpdate.status === 'rejected') {
      if (globalUpdate.status === 'fulfilled') await this.refundGlobal(day, costMicroUsd).catch(() => undefined);
      const error: unknown = principalUpdate.reason;
      if (!isConditionFailed(error)) throw unavailable(error);
      // Tell the caller which limit it hit; the read is only for the message, the refusal is already decided.
      const current = await this.dynamo
        .send(
          new GetItemCommand({ TableName: this.options.table, Key: { pk: { S: `quota#${key}#${day}` } }, ConsistentRead: true }),
          boundedCall(),
        )
        .catch(() => undefined);
      const used = Number(current?.Item?.['images']?.N ?? limits.dailyImages);
      if (used + count > limits.dailyImages) {
        const left = Math.max(0, limits.dailyImages - used);
        const message =
          count > 1 && left > 0
            ? `Daily image limit: ${count} images asked for, ${left} left today (${limits.dailyImages} a day). Nothing was reserved; it resets at 00:00 UTC.`
            : `Daily image limit reached (${limits.dailyImages} a day). It resets at 00:00 UTC.`;
        throw refuse('quota_exceeded', message, left);
      }
      throw overSpend();
    }

    const images = Number(principalUpdate.value.Attributes?.['images']?.N ?? String(count));
    const reservation: Reservation = {
      principalKey: key,
      day,
      costMicroUsd,
      spendLimitMicroUsd: limits.dailySpendMicroUsd,
      ...(count > 1 ? { images: count } : {}),
      status: { limit: limits.dailyImages, remaining: Math.max(0, limits.dailyImages - images), resetAt },
    };
    if (globalUpdate.status === 'rejected') {
      await this.releasePrincipal(reservation).catch(() => undefined);
      if (isConditionFailed(globalUpdate.reason)) {
        throw refuse(
          'spend_cap_reached',
          'The service has reached its daily spending cap. It resets at 00:00 UTC.',
          reservation.status.remaining,
        );
      }
      throw unavailable(globalUpdate.reason);
    }
    return reservation;
  }

  async chargeRetry(reservation: ReservationRef): Promise<boolean> {
    return this.charge(reservation, reservation.costMicroUsd, false);
  }

  async extend(reservation: ReservationRef, extraMicroUsd: number): Promise<boolean> {
    return this.charge(reservation, extraMicroUsd, true);
  }

  /**
   * Adds `cost` to the principal's and the global spend of the reservation's day, within their limits (and, for
   * an extension, to the principal's reserved part too, which its settlement takes back); false, with nothing
   * counted, when that would pass a limit.
   */
  private async charge(reservation: ReservationRef, cost: number, reserved: boolean): Promise<boolean> {
    const spend = (pk: string, limit: number, withReserved: boolean): UpdateItemCommandInput => ({
      TableName: this.options.table,
      Key: { pk: { S: pk } },
      UpdateExpression: withReserved ? 'ADD spendMicroUsd :cost, reservedMicroUsd :cost' : 'ADD spendMicroUsd :cost',
      ConditionExpression: 'attribute_exists(pk) AND spendMicroUsd <= :maxSpendBefore',
      ExpressionAttributeValues: { ':cost': { N: String(cost) }, ':maxSpendBefore': { N: String(limit - cost) } },
    });
    const principalPk = `quota#${reservation.principalKey}#${reservation.day}`;
    try {
      await this.update(spend(principalPk, reservation.spendLimitMicroUsd, reserved));
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw unavailable(error);
    }
    try {
      await this.update(spend(`spend#global#${reservation.day}`, this.options.globalDailySpendMicroUsd, false));
      return true;
    } catch (error) {
      await this.update({
        TableName: this.options.table,
        Key: { pk: { S: principalPk } },
        UpdateExpression: reserved ? 'ADD spendMicroUsd :refund, reservedMicroUsd :refund' : 'ADD spendMicroUsd :refund',
        ExpressionAttributeValues: { ':refund': { N: String(-cost) } },
      }).catch(() => undefined);
      if (isConditionFailed(error)) return false;
      throw unavailable(error);
    }
  }

  async settle(reservation: ReservationRef, deltaMicroUsd: number): Promise<void> {
    const delta = { ':delta': { N: String(Math.round(deltaMicroUsd)) } };
    // Only counters that exist: a settlement never creates a day's counter of its own.
    const principal = this.update({
      TableName: this.options.table,
      Key: { pk: { S: `quota#${reservation.principalKey}#${reservation.day}` } },
      UpdateExpression: 'ADD spendMicroUsd :delta, reservedMicroUsd :unreserve',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ...delta, ':unreserve': { N: String(-reservation.costMicroUsd) } },
    });
    const global =
      deltaMicroUsd === 0
        ? undefined
        : this.update({
            TableName: this.options.table,
            Key: { pk: { S: `spend#global#${reservation.day}` } },
            UpdateExpression: 'ADD spendMicroUsd :delta',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: delta,
          });
    await Promise.all([principal, global]);
  }

  async usage(principal: Principal, now: number): Promise<QuotaUsage> {
    const key = principalKey(principal);
    const limits = this.limitsOf(principal, key);
    const day = utcDay(now);
    const read = (pk: string) =>
      this.dynamo.send(new GetItemCommand({ TableName: this.options.table, Key: { pk: { S: pk } }, ConsistentRead: true }), boundedCall());
    const [own, global] = await Promise.all([read(`quota#${key}#${day}`), read(`spend#global#${day}`)]).catch((error: unknown) => {
      throw unavailable(error);
    });
    const count = (item: typeof own.Item, name: string): number => Math.max(0, Number(item?.[name]?.N ?? 0));
    const spent = count(own.Item, 'spendMicroUsd');
    const reserved = Math.min(spent, count(own.Item, 'reservedMicroUsd'));
    return {
      day,
      imagesUsed: count(own.Item, 'images'),
      imageLimit: limits.dailyImages,
      settledMicroUsd: spent - reserved,
      reservedMicroUsd: reserved,
      spendLimitMicroUsd: limits.dailySpendMicroUsd,
      resetAt: nextUtcMidnight(now),
      serviceCapReached: count(global.Item, 'spendMicroUsd') >= this.options.globalDailySpendMicroUsd,
    };
  }

  async count(principal: Principal, activity: keyof ActivityLimits, now: number): Promise<void> {
    const limit = this.options.activityLimits[activity];
    const resetAt = nextUtcMidnight(now);
    const refused = (): AppError =>
      new AppError('quota_exceeded', `${ACTIVITY_NAMES[activity]} (${limit} a day). It resets at 00:00 UTC.`, {
        headers: { 'Retry-After': String(Math.max(1, Math.ceil((resetAt - now) / 1000))) },
        details: { activity },
      });
    if (limit < 1) throw refused();
    try {
      // On the caller's quota item of the day, beside its images and spend (the same TTL).
      await this.update({
        TableName: this.options.table,
        Key: { pk: { S: `quota#${principalKey(principal)}#${utcDay(now)}` } },
        UpdateExpression: 'ADD #activity :one SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
        ConditionExpression: 'attribute_not_exists(#activity) OR #activity < :limit',
        ExpressionAttributeNames: { '#activity': activity },
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':limit': { N: String(limit) },
          ':expiresAt': { N: String(Math.floor(resetAt / 1000) + 2 * 86_400) },
        },
      });
    } catch (error) {
      if (isConditionFailed(error)) throw refused();
      throw unavailable(error);
    }
  }

  async release(reservation: ReservationRef): Promise<void> {
    await Promise.all([this.releasePrincipal(reservation), this.refundGlobal(reservation.day, reservation.costMicroUsd)]);
  }

  private async refundGlobal(day: string, costMicroUsd: number): Promise<void> {
    await this.update({
      TableName: this.options.table,
      Key: { pk: { S: `spend#global#${day}` } },
      UpdateExpression: 'ADD spendMicroUsd :refund',
      ExpressionAttributeValues: { ':refund': { N: String(-costMicroUsd) } },
    });
  }

  private async releasePrincipal(reservation: ReservationRef): Promise<void> {
    await this.update({
      TableName: this.options.table,
      Key: { pk: { S: `quota#${reservation.principalKey}#${reservation.day}` } },
      UpdateExpression: 'ADD images :minusImages, spendMicroUsd :refund, reservedMicroUsd :refund',
      ExpressionAttributeValues: {
        ':minusImages': { N: String(-(reservation.images ?? 1)) },
        ':refund': { N: String(-reservation.costMicroUsd) },
      },
    });
  }

  /** An issued key's own limits over PRINCIPAL_LIMITS' entry for it over the defaults, field by field. */
  private limitsOf(principal: Principal, key: string): QuotaLimits {
    const base = this.options.principalLimits.get(key) ?? this.options.defaultLimits;
    const own = principal.limits;
    return {
      dailyImages: own?.dailyImages ?? base.dailyImages,
      dailySpendMicroUsd: own?.dailySpendMicroUsd ?? base.dailySpendMicroUsd,
    };
  }

  private update(input: UpdateItemCommandInput) {
    return this.dynamo.send(new UpdateItemCommand(input), boundedCall());
  }
}

const unavailable = (error: unknown): AppError =>
  new AppError('state_unavailable', 'The quota service is unavailable. Retry later.', {
    cause: error,
    details: { dynamoError: error instanceof Error ? error.name : 'unknown' },
  });
