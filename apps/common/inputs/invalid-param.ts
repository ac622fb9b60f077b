/** One refused field of a request: where it is (a JSON path) and why. */
export interface InvalidParam {
  path: (string | number)[];
  message: string;
}
