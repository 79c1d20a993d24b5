<?php
/**
 * What the plugin computes, with no WordPress call: the signed beacon token, the catalog
 * entry of a post, the catalog requests and how their answers are taken, the retry delay
 * and the Most viewed box's attributes. Plain PHP, so it can be loaded and checked alone.
 *
 * @package RankerMostViewed
 */

// Loaded by the plugin (ABSPATH), or alone by a script that defines RANKER_MV_STANDALONE.
if ( ! defined( 'ABSPATH' ) && ! defined( 'RANKER_MV_STANDALONE' ) ) {
	exit;
}

/**
 * Input the plugin cannot turn into what Ranker accepts; the message names the field.
 */
class Ranker_MV_Invalid extends InvalidArgumentException {
}

/**
 * Ranker's rules, as ranker/core/validate.py and ranker/core/signing.py state them.
 */
final class Ranker_MV_Core {

	const VERSION = '0.1.0';

	// A site, a section and a placement: 1-32 of a-z 0-9 _ -, the first a letter or digit.
	const NAME_PATTERN = '/^[a-z0-9][a-z0-9_-]{0,31}$/D';
	// A story id: 1-128 of A-Z a-z 0-9 _ . : -, the first a letter or digit.
	const ID_PATTERN = '/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/D';
	const WINDOWS    = array( 'hot', '1h', '24h', '7d', '30d', 'all' );

	const MAX_TITLE   = 300;
	const MAX_SUMMARY = 1000;
	const MAX_URL     = 2048;
	const MAX_NAME    = 100;
	const MAX_AUTHORS = 10;
	const MAX_TAGS    = 30;
	const MAX_N       = 100;

	// Text: bidi embeddings, overrides and isolates are dropped (they would show a title in
	// another order than it reads); controls and every kind of whitespace become one space.
	const BIDI_CONTROLS = '/[\x{202a}-\x{202e}\x{2066}-\x{2069}]/u';
	const SPACES        = '/[\x{0}-\x{20}\x{7f}-\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+/u';
	// What a link may not hold (whitespace, controls, backslash, bidi marks): percent-encoded.
	const URL_REFUSED = '/[\x{0}-\x{20}\x{7f}-\x{a0}\x{5c}\x{61c}\x{1680}\x{2000}-\x{200a}\x{200e}\x{200f}\x{2028}-\x{202f}\x{205f}\x{2066}-\x{2069}\x{3000}]/u';
	// An http(s) URL with a host, or a path on the site itself (never "//host").
	const LINK_PATTERN = '~^(?:https?://[^/?#]|/(?!/))~i';

	// Catalog pushes that fail for a reason that may pass are retried after 1 minute,
	// doubling up to 6 hours, 20 times in all (about three days).
	const FIRST_DELAY  = 60;
	const MAX_DELAY    = 21600;
	const MAX_ATTEMPTS = 20;

	/**
	 * The key beacon tokens are signed with: the site's secret, or when the plugin has
	 * none, the key Ranker derives from the site's token.
	 *
	 * @param string $token  The site's catalog token.
	 * @param string $secret The site's secret, or ''.
	 * @return string The key, or '' when neither is set.
	 */
	public static function signing_key( $token, $secret ) {
		if ( '' !== (string) $secret ) {
			return (string) $secret;
		}
		if ( '' === (string) $token ) {
			return '';
		}
		return hash_hmac( 'sha256', 'ranker beacon tokens', (string) $token );
	}

	/**
	 * A token letting `$id` be counted on `$site` until unix time `$expires`: "<expires>.<mac>",
	 * the MAC being HMAC-SHA256 of "site\nid\nexpires", its first 16 bytes, base64url.
	 *
	 * @param string $key     The signing key (see signing_key).
	 * @param string $site    The Ranker site.
	 * @param string $id      The story id.
	 * @param int    $expires Unix seconds.
	 * @return string The token.
	 * @throws Ranker_MV_Invalid When an argument cannot be signed.
	 */
	public static function sign( $key, $site, $id, $expires ) {
		if ( ! is_string( $key ) || '' === $key ) {
			throw new Ranker_MV_Invalid( 'secret: must not be empty' );
		}
		if ( ! is_string( $site ) || ! is_string( $id ) || false !== strpos( $site . $id, "\n" ) ) {
			throw new Ranker_MV_Invalid( 'site and id: strings without a newline' );
		}
		if ( ! is_int( $expires ) || $expires < 0 ) {
			throw new Ranker_MV_Invalid( 'expires: unix seconds, a non-negative integer' );
		}
		$digest = hash_hmac( 'sha256', $site . "\n" . $id . "\n" . $expires, $key, true );
		$mac    = rtrim( strtr( base64_encode( substr( $digest, 0, 16 ) ), '+/', '-_' ), '=' );
		return $expires . '.' . $mac;
	}

	/**
	 * When a token signed at `$now` expires: midnight UTC `$days` to `$days` + 1 days later,
	 * so that a page's token stays the same all day (and cached copies agree).
	 *
	 * @param int $now  Unix seconds.
	 * @param int $days At least this many days of validity.
	 * @return int Unix seconds.
	 */
	public static function token_expiry( $now, $days = 30 ) {
		return ( intdiv( (int) $now, 86400 ) + (int) $days + 1 ) * 86400;
	}

	/**
	 * Text as Ranker shows it: tags stripped, entities decoded, controls and runs of
	 * whitespace made one space, bidi controls dropped, trimmed, and cut to `$limit`
	 * characters (the last an ellipsis) if longer.
	 *
	 * @param mixed $value A string (HTML allowed), or anything else for ''.
	 * @param int   $limit Most characters kept.
	 * @return string The text, maybe ''.
	 */
	public static function text( $value, $limit ) {
		if ( ! is_scalar( $value ) ) {
			return '';
		}
		$text = self::utf8( (string) $value );
		$text = html_entity_decode( strip_tags( $text ), ENT_QUOTES | ENT_HTML5, 'UTF-8' );
		$text = preg_replace( self::BIDI_CONTROLS, '', $text );
		$text = trim( preg_replace( self::SPACES, ' ', $text ), ' ' );
		if ( preg_match_all( '/./us', $text ) > $limit ) {
			preg_match( '/^.{0,' . ( $limit - 1 ) . '}/us', $text, $cut );
			$text = rtrim( $cut[0], ' ' ) . "\u{2026}";
		}
		return $text;
	}

	/**
	 * A link as Ranker takes it: trimmed, what a link may not hold percent-encoded, an
	 * http(s) URL with a host or a path starting with one "/", at most 2048 characters.
	 *
	 * @param mixed $value The URL.
	 * @return string|null The link, or null if it cannot be one.
	 */
	public static function link( $value ) {
		if ( ! is_string( $value ) ) {
			return null;
		}
		$url = self::utf8( trim( $value, "\t\n\f\r " ) );
		$url = preg_replace_callback(
			self::URL_REFUSED,
			function ( $m ) {
				return rawurlencode( $m[0] );
			},
			$url
		);
		if ( '' === $url || ! preg_match( self::LINK_PATTERN, $url ) ) {
			return null;
		}
		return preg_match_all( '/./us', $url ) > self::MAX_URL ? null : $url;
	}

	/**
	 * A category's slug as a Ranker section: decoded, lower case, other characters than
	 * a-z 0-9 _ - made "-", at most 32; "cat-<term id>" when nothing is left of it (a name
	 * in another script) or it is "all" (Ranker's name for the whole site).
	 *
	 * @param string $slug    The category's slug.
	 * @param int    $term_id The category's id.
	 * @return string|null The section, or null without a slug.
	 */
	public static function section( $slug, $term_id = 0 ) {
		if ( ! is_string( $slug ) || '' === $slug ) {
			return null;
		}
		$name = strtolower( rawurldecode( $slug ) );
		$name = preg_replace( '/[^a-z0-9_-]+/', '-', $name );
		$name = substr( ltrim( $name, '-_' ), 0, 32 );
		if ( '' === $name || 'all' === $name ) {
			return $term_id > 0 ? 'cat-' . (int) $term_id : null;
		}
		return $name;
	}

	/**
	 * The catalog entry of a post, as PUT /v1/sites/{site}/items/{id} takes it.
	 *
	 * @param array $post title (HTML allowed), url, and optionally published (unix seconds),
	 *                    section, summary, image, authors and tags (lists of names).
	 * @return array The entry.
	 * @throws Ranker_MV_Invalid When the post has no title or no usable link.
	 */
	public static function entry( array $post ) {
		$title = self::text( isset( $post['title'] ) ? $post['title'] : '', self::MAX_TITLE );
		if ( '' === $title ) {
			throw new Ranker_MV_Invalid( 'title: must not be empty' );
		}
		$url = self::link( isset( $post['url'] ) ? $post['url'] : null );
		if ( null === $url ) {
			throw new Ranker_MV_Invalid( 'url: expected an http(s) URL or a path starting with a single /' );
		}
		$entry = array(
			'title' => $title,
			'url'   => $url,
		);
		if ( isset( $post['published'] ) && is_int( $post['published'] ) ) {
			$year = (int) gmdate( 'Y', $post['published'] );
			if ( $year >= 1900 && $year <= 9999 ) {
				$entry['published_at'] = gmdate( 'Y-m-d\TH:i:s\Z', $post['published'] );
			}
		}
		if ( isset( $post['section'] ) && is_string( $post['section'] ) && self::is_section( $post['section'] ) ) {
			$entry['section'] = $post['section'];
		}
		$summary = self::text( isset( $post['summary'] ) ? $post['summary'] : '', self::MAX_SUMMARY );
		if ( '' !== $summary ) {
			$entry['summary'] = $summary;
		}
		$image = self::link( isset( $post['image'] ) ? $post['image'] : null );
		if ( null !== $image ) {
			$entry['image'] = $image;
		}
		foreach ( array(
			'authors' => self::MAX_AUTHORS,
			'tags'    => self::MAX_TAGS,
		) as $field => $most ) {
			$names = self::names( isset( $post[ $field ] ) ? $post[ $field ] : array(), $most );
			if ( $names ) {
				$entry[ $field ] = $names;
			}
		}
		return $entry;
	}

	/**
	 * Up to `$most` names as Ranker takes them: each text of 1-100 characters, the first of
	 * those alike in case kept.
	 *
	 * @param mixed $given A list of names.
	 * @param int   $most  Most names kept.
	 * @return array The names.
	 */
	public static function names( $given, $most ) {
		$kept = array();
		foreach ( is_array( $given ) ? $given : array() as $name ) {
			$name = self::text( $name, self::MAX_NAME );
			$key  = strtolower( $name );
			if ( '' !== $name && ! isset( $kept[ $key ] ) && count( $kept ) < $most ) {
				$kept[ $key ] = $name;
			}
		}
		return array_values( $kept );
	}

	/**
	 * Whether `$name` is a section Ranker takes.
	 *
	 * @param string $name The section.
	 * @return bool
	 */
	public static function is_section( $name ) {
		return is_string( $name ) && 'all' !== $name && 1 === preg_match( self::NAME_PATTERN, $name );
	}

	/**
	 * The catalog request for one change of one story.
	 *
	 * @param string     $base  Ranker's address, e.g. "https://ranker.example.com".
	 * @param string     $site  The Ranker site.
	 * @param string     $token The site's catalog token.
	 * @param string     $op    "put" (the entry, created or replaced), "hide" (out of every
	 *                          list, counts kept) or "delete" (the story and its counts gone).
	 * @param string     $id    The story id.
	 * @param array|null $entry The entry, for "put".
	 * @return array method, url, headers and body.
	 * @throws Ranker_MV_Invalid For an unknown op, a bad id or a put without entry.
	 */
	public static function request( $base, $site, $token, $op, $id, $entry = null ) {
		if ( ! preg_match( self::ID_PATTERN, (string) $id ) ) {
			throw new Ranker_MV_Invalid( "id: 1-128 of A-Z, a-z, 0-9, '_', '.', ':' and '-'" );
		}
		$url     = rtrim( $base, '/' ) . '/v1/sites/' . rawurlencode( $site ) . '/items/' . rawurlencode( $id );
		$headers = array(
			'Authorization' => 'Bearer ' . $token,
			'Accept'        => 'application/json',
		);
		if ( 'delete' === $op ) {
			return array(
				'method'  => 'DELETE',
				'url'     => $url,
				'headers' => $headers,
				'body'    => '',
			);
		}
		if ( 'hide' === $op ) {
			$method = 'PATCH';
			$body   = array( 'hidden' => true );
		} elseif ( 'put' === $op && is_array( $entry ) ) {
			$method = 'PUT';
			$body   = $entry;
		} else {
			throw new Ranker_MV_Invalid( 'op: "put" with an entry, "hide" or "delete"' );
		}
		return array(
			'method'  => $method,
			'url'     => $url,
			'headers' => $headers + array( 'Content-Type' => 'application/json' ),
			'body'    => self::json( $body ),
		);
	}

	/**
	 * The bulk import request for several stories: JSON lines, each entry with its id.
	 *
	 * @param string $base    Ranker's address.
	 * @param string $site    The Ranker site.
	 * @param string $token   The site's catalog token.
	 * @param array  $entries Story id => entry.
	 * @return array method, url, headers and body.
	 */
	public static function import_request( $base, $site, $token, array $entries ) {
		$lines = array();
		foreach ( $entries as $id => $entry ) {
			$lines[] = self::json( array( 'id' => (string) $id ) + $entry );
		}
		return array(
			'method'  => 'POST',
			'url'     => rtrim( $base, '/' ) . '/v1/sites/' . rawurlencode( $site ) . '/items',
			'headers' => array(
				'Authorization' => 'Bearer ' . $token,
				'Accept'        => 'application/json',
				'Content-Type'  => 'application/x-ndjson',
			),
			'body'    => implode( "\n", $lines ) . "\n",
		);
	}

	/**
	 * What an answer to a catalog request means: "done", "retry" (it may pass later: no
	 * answer, a server error, a limit, a token or site not yet right) or "failed" (the
	 * request itself is refused and would be again), with a message for the settings page.
	 *
	 * @param string $op     The request's op ("put", "hide", "delete" or "import").
	 * @param int    $status The HTTP status, 0 for no answer.
	 * @param string $body   The answer's body, or the transport's error for no answer.
	 * @return array outcome and message.
	 */
	public static function outcome( $op, $status, $body ) {
		$status = (int) $status;
		if ( ( 'put' === $op && ( 200 === $status || 201 === $status ) )
			|| ( 'import' === $op && 200 === $status )
			|| ( 'hide' === $op && 200 === $status )
			|| ( 'delete' === $op && 204 === $status )
			|| ( 'put' !== $op && 404 === $status && false !== strpos( (string) $body, '"unknown_item"' ) ) ) {
			// A story Ranker never had needs no hiding or deleting.
			return array(
				'outcome' => 'done',
				'message' => '',
			);
		}
		if ( 0 === $status ) {
			$message = 'no answer: ' . self::text( $body, 200 );
		} else {
			$error   = json_decode( (string) $body, true );
			$message = 'HTTP ' . $status;
			if ( is_array( $error ) && isset( $error['error'], $error['message'] ) ) {
				$message .= ' ' . self::text( $error['error'], 40 ) . ': ' . self::text( $error['message'], 200 );
			}
		}
		$final = in_array( $status, array( 400, 405, 413, 415, 422 ), true );
		return array(
			'outcome' => $final ? 'failed' : 'retry',
			'message' => $message,
		);
	}

	/**
	 * Seconds to wait before the next try of a push that failed `$attempts` times, or null
	 * once it has had every try.
	 *
	 * @param int $attempts Tries so far (1 after the first).
	 * @return int|null
	 */
	public static function retry_delay( $attempts ) {
		if ( $attempts >= self::MAX_ATTEMPTS ) {
			return null;
		}
		$delay = self::FIRST_DELAY * ( 2 ** min( max( $attempts - 1, 0 ), 20 ) );
		return (int) min( $delay, self::MAX_DELAY );
	}

	/**
	 * The data- attributes of a Most viewed box (widget.js reads them), from a shortcode's
	 * or a block's settings.
	 *
	 * @param array       $settings   window, section, n, exclude_current, title, placement.
	 * @param string      $site       The Ranker site.
	 * @param string|null $current_id The story of the page the box is on, if any.
	 * @return array Attribute name => value.
	 * @throws Ranker_MV_Invalid Naming the setting that is wrong and what it may be.
	 */
	public static function box( array $settings, $site, $current_id = null ) {
		$settings += array(
			'window'          => '24h',
			'section'         => '',
			'n'               => 5,
			'exclude_current' => true,
			'title'           => '',
			'placement'       => '',
		);
		$window = strtolower( trim( (string) $settings['window'] ) );
		if ( ! in_array( $window, self::WINDOWS, true ) ) {
			throw new Ranker_MV_Invalid( 'window: one of ' . implode( ', ', self::WINDOWS ) );
		}
		$n = trim( (string) $settings['n'] );
		if ( ! preg_match( '/^[0-9]{1,3}$/D', $n ) || (int) $n < 1 || (int) $n > self::MAX_N ) {
			throw new Ranker_MV_Invalid( 'n: a whole number from 1 to ' . self::MAX_N );
		}
		$section = strtolower( trim( (string) $settings['section'] ) );
		if ( '' !== $section && ! self::is_section( $section ) ) {
			throw new Ranker_MV_Invalid( "section: 1-32 of a-z, 0-9, '_' and '-' (a category's slug), and not 'all'" );
		}
		$placement = strtolower( trim( (string) $settings['placement'] ) );
		if ( '' !== $placement && ! preg_match( self::NAME_PATTERN, $placement ) ) {
			throw new Ranker_MV_Invalid( "placement: 1-32 of a-z, 0-9, '_' and '-'" );
		}
		$exclude = self::flag( $settings['exclude_current'] );
		if ( null === $exclude ) {
			throw new Ranker_MV_Invalid( 'exclude_current: true or false' );
		}
		$box = array(
			'data-ranker-top' => '',
			'data-site'       => (string) $site,
			'data-n'          => (string) (int) $n,
			'data-window'     => $window,
		);
		if ( '' !== $section ) {
			$box['data-section'] = $section;
		}
		$title = self::text( $settings['title'], 100 );
		if ( '' !== $title ) {
			$box['data-title'] = $title;
		}
		if ( '' !== $placement ) {
			$box['data-placement'] = $placement;
		}
		if ( ! $exclude ) {
			$box['data-exclude-current'] = 'false';
		} elseif ( null !== $current_id && preg_match( self::ID_PATTERN, (string) $current_id ) ) {
			$box['data-exclude'] = (string) $current_id;
		}
		return $box;
	}

	/**
	 * A yes or no given as a shortcode's text or a block's boolean.
	 *
	 * @param mixed $value true, false, "true", "false", "1", "0", "yes", "no".
	 * @return bool|null Null for anything else.
	 */
	public static function flag( $value ) {
		if ( is_bool( $value ) ) {
			return $value;
		}
		$value = strtolower( trim( (string) $value ) );
		if ( in_array( $value, array( 'true', '1', 'yes', 'on' ), true ) ) {
			return true;
		}
		if ( in_array( $value, array( 'false', '0', 'no', 'off' ), true ) ) {
			return false;
		}
		return null;
	}

	/**
	 * JSON as Ranker reads it (UTF-8, invalid bytes replaced).
	 *
	 * @param mixed $value The value.
	 * @return string
	 */
	public static function json( $value ) {
		return (string) json_encode( $value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE );
	}

	/**
	 * `$text` as valid UTF-8: each invalid byte becomes U+FFFD.
	 *
	 * @param string $text Bytes.
	 * @return string
	 */
	private static function utf8( $text ) {
		if ( preg_match( '//u', $text ) ) {
			return $text;
		}
		return (string) json_decode( json_encode( $text, JSON_INVALID_UTF8_SUBSTITUTE ) );
	}
}
