import { describe, expect, it } from 'vitest';
import { parseRoute } from '../../src/router';

describe('routes', () => {
  it('has the review queue, its decided list and one review', () => {
    expect(parseRoute('/app/review')).toEqual({ page: 'review', view: 'waiting' });
    expect(parseRoute('/app/review/')).toEqual({ page: 'review', view: 'waiting' });
    expect(parseRoute('/app/review/decided')).toEqual({ page: 'review', view: 'decided' });
    expect(parseRoute('/app/review/01a21773-aa9a-7032-aa03-1dea5a158108')).toEqual({
      page: 'review-match',
      id: '01a21773-aa9a-7032-aa03-1dea5a158108',
    });
    expect(parseRoute('/app/review/a/b')).toEqual({ page: 'not-found' });
    expect(parseRoute('/app/review/<script>')).toEqual({ page: 'not-found' });
    expect(parseRoute(`/app/review/${'a'.repeat(65)}`)).toEqual({ page: 'not-found' });
  });
  it('keeps the pages it had, and finds a patient at its own address too', () => {
    expect(parseRoute('/app/')).toEqual({ page: 'home' });
    expect(parseRoute('/app/find-patient')).toEqual({ page: 'find-patient' });
    expect(parseRoute('/app/patient/p-1')).toEqual({ page: 'patient', id: 'p-1' });
    expect(parseRoute('/app/my-record/sharing')).toEqual({ page: 'sharing' });
    expect(parseRoute('/app/no/such/page')).toEqual({ page: 'not-found' });
  });
});
