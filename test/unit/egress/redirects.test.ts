import { redirectedRequest, type OutgoingRequest } from '../../../activities/egress/redirects';

const post: OutgoingRequest = {
  url: new URL('http://api.example/jobs'),
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer t', cookie: 'a=b', 'idempotency-key': 'k', 'x-trace': '1' },
  body: '{"a":1}',
};

describe('method and body after a redirect (Fetch standard)', () => {
  test.each([
    [301, 'POST', 'GET'],
    [302, 'POST', 'GET'],
    [303, 'POST', 'GET'],
    [303, 'PUT', 'GET'],
    [303, 'DELETE', 'GET'],
    [303, 'HEAD', 'HEAD'],
    [301, 'PUT', 'PUT'],
    [302, 'PATCH', 'PATCH'],
    [307, 'POST', 'POST'],
    [308, 'POST', 'POST'],
    [307, 'PUT', 'PUT'],
  ])('%i on %s continues as %s', (status, method, expected) => {
    const next = redirectedRequest({ ...post, method }, status, '/next');
    expect(next.method).toBe(expected);
    if (expected === method) {
      expect(next.body).toBe(post.body);
      expect(next.headers['content-type']).toBe('application/json');
    } else {
      expect(next.body).toBeUndefined();
      expect(next.headers['content-type']).toBeUndefined();
    }
    expect(next.headers['idempotency-key']).toBe('k');
  });
});

describe('headers after a redirect', () => {
  test('the same origin keeps credentials; a relative Location resolves against the current URL', () => {
    const next = redirectedRequest(post, 307, 'v2/jobs?x=1');
    expect(next.url.href).toBe('http://api.example/v2/jobs?x=1');
    expect(next.headers).toMatchObject({ authorization: 'Bearer t', cookie: 'a=b' });
  });

  test.each(['http://other.example/jobs', 'https://api.example/jobs', 'http://api.example:8080/jobs'])(
    'another origin (%s) gets no credentials, and the rest of the headers',
    (location) => {
      const next = redirectedRequest(post, 307, location);
      expect(next.headers.authorization).toBeUndefined();
      expect(next.headers.cookie).toBeUndefined();
      expect(next.headers).toMatchObject({ 'idempotency-key': 'k', 'x-trace': '1', 'content-type': 'application/json' });
    },
  );

  test('the request it came from is left as it was', () => {
    redirectedRequest(post, 302, 'http://other.example/');
    expect(post.headers.authorization).toBe('Bearer t');
    expect(post.method).toBe('POST');
  });
});
