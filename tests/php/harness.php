<?php
/**
 * The plugin's pure code (Ranker_MV_Core) without WordPress, for tests/test_wordpress.py:
 * each line of standard input is {"call": NAME, "args": [...]}, answered by one line,
 * {"ok": RESULT} or {"error": MESSAGE}. NAME is a public static method of Ranker_MV_Core,
 * or "send": args [request] is sent with PHP's own HTTP client, answering status and body.
 *
 * @package RankerMostViewed
 */

define( 'RANKER_MV_STANDALONE', true );
require dirname( __DIR__, 2 ) . '/integrations/wordpress/ranker-most-viewed/includes/class-ranker-mv-core.php';

/**
 * Sends a request made by Ranker_MV_Core::request.
 *
 * @param array $request method, url, headers, body.
 * @return array status and body.
 */
function ranker_mv_test_send( array $request ) {
	$headers = array();
	foreach ( $request['headers'] as $name => $value ) {
		$headers[] = $name . ': ' . $value;
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'        => $request['method'],
				'header'        => implode( "\r\n", $headers ),
				'content'       => $request['body'],
				'ignore_errors' => true,
				'timeout'       => 10,
			),
		)
	);
	$body = @file_get_contents( $request['url'], false, $context ); // phpcs:ignore
	if ( false === $body ) {
		return array( 'status' => 0, 'body' => 'no answer' );
	}
	preg_match( '{^HTTP/\S+ (\d{3})}', $http_response_header[0], $m );
	return array( 'status' => (int) $m[1], 'body' => $body );
}

while ( false !== ( $line = fgets( STDIN ) ) ) {
	$ask = json_decode( $line, true );
	try {
		if ( 'send' === $ask['call'] ) {
			$result = ranker_mv_test_send( $ask['args'][0] );
		} else {
			$result = call_user_func_array( array( 'Ranker_MV_Core', $ask['call'] ), $ask['args'] );
		}
		$answer = array( 'ok' => $result );
	} catch ( Ranker_MV_Invalid $e ) {
		$answer = array( 'error' => $e->getMessage() );
	}
	echo Ranker_MV_Core::json( $answer ), "\n";
	flush();
}
